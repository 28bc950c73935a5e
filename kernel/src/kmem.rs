//! Kernel memory: every byte the kernel and its drivers keep comes from the
//! memory hypercall, is charged to the kernel that asked for it, and may be
//! refused.
//!
//! Rust's ordinary collections abort the process when an allocation fails.
//! Kernel code therefore uses the collections of `allocator-api2` with
//! [`KAlloc`], an allocator handle that names the kernel's [`Kmem`] and the
//! allocating *site* (a static string such as `"tmpfs.data"` that fault plans
//! can aim at), and only their fallible forms: [`KVec::try_reserve`],
//! [`KBox::try_new_in`], and the helpers in [`TryPush`] and [`kvec_from_slice`].
//! A refused allocation becomes [`Errno::ENOMEM`] at the system call.
//!
//! [`Kmem`] keeps the books: bytes and allocations outstanding, the peak, and
//! an optional limit (the `memlimit` boot parameter) beyond which it refuses on
//! its own. At halt, anything still outstanding is a leak.

use alloc::sync::Arc;
use core::alloc::Layout;
use core::ptr::NonNull;
use core::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

pub use allocator_api2::alloc::{AllocError, Allocator};
use rumpkit_hypercall::Hypercalls;

use crate::errno::{Errno, KResult};

/// A vector in kernel memory.
pub type KVec<T> = allocator_api2::vec::Vec<T, KAlloc>;
/// A box in kernel memory.
pub type KBox<T> = allocator_api2::boxed::Box<T, KAlloc>;

/// Per-kernel memory accounting over the memory hypercall.
pub struct Kmem {
    platform: Arc<dyn Hypercalls>,
    limit_bytes: usize,
    used_bytes: AtomicUsize,
    peak_bytes: AtomicUsize,
    outstanding_allocations: AtomicUsize,
    total_allocations: AtomicU64,
    refused_allocations: AtomicU64,
}

/// A snapshot of a kernel's memory books.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct KmemStats {
    /// Bytes allocated and not yet freed.
    pub used_bytes: usize,
    /// The largest `used_bytes` seen.
    pub peak_bytes: usize,
    /// Allocations not yet freed.
    pub outstanding_allocations: usize,
    /// Allocations granted since boot.
    pub total_allocations: u64,
    /// Allocations refused (by the limit or by the platform).
    pub refused_allocations: u64,
    /// The limit, or `usize::MAX` for none.
    pub limit_bytes: usize,
}

impl Kmem {
    /// Books for a new kernel on `platform`; `limit_bytes` of `None` means no
    /// limit of the kernel's own (the platform may still refuse).
    pub fn new(platform: Arc<dyn Hypercalls>, limit_bytes: Option<usize>) -> Kmem {
        Kmem {
            platform,
            limit_bytes: limit_bytes.unwrap_or(usize::MAX),
            used_bytes: AtomicUsize::new(0),
            peak_bytes: AtomicUsize::new(0),
            outstanding_allocations: AtomicUsize::new(0),
            total_allocations: AtomicU64::new(0),
            refused_allocations: AtomicU64::new(0),
        }
    }

    /// The current books.
    pub fn stats(&self) -> KmemStats {
        KmemStats {
            used_bytes: self.used_bytes.load(Ordering::Relaxed),
            peak_bytes: self.peak_bytes.load(Ordering::Relaxed),
            outstanding_allocations: self.outstanding_allocations.load(Ordering::Relaxed),
            total_allocations: self.total_allocations.load(Ordering::Relaxed),
            refused_allocations: self.refused_allocations.load(Ordering::Relaxed),
            limit_bytes: self.limit_bytes,
        }
    }

    fn charge(&self, size: usize) -> bool {
        let mut used = self.used_bytes.load(Ordering::Relaxed);
        loop {
            let Some(new_used) = used.checked_add(size).filter(|n| *n <= self.limit_bytes) else {
                return false;
            };
            match self.used_bytes.compare_exchange_weak(
                used,
                new_used,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => {
                    self.peak_bytes.fetch_max(new_used, Ordering::Relaxed);
                    return true;
                }
                Err(actual) => used = actual,
            }
        }
    }

    fn allocate(&self, layout: Layout, site: &'static str) -> Option<NonNull<u8>> {
        if !self.charge(layout.size()) {
            self.refused_allocations.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        match self.platform.mem_alloc(layout, site) {
            Some(pointer) => {
                self.outstanding_allocations.fetch_add(1, Ordering::Relaxed);
                self.total_allocations.fetch_add(1, Ordering::Relaxed);
                Some(pointer)
            }
            None => {
                self.used_bytes.fetch_sub(layout.size(), Ordering::Relaxed);
                self.refused_allocations.fetch_add(1, Ordering::Relaxed);
                None
            }
        }
    }

    /// # Safety
    /// As [`Hypercalls::mem_free`]: `pointer` came from [`Kmem::allocate`] on
    /// this `Kmem` with this `layout`.
    unsafe fn free(&self, pointer: NonNull<u8>, layout: Layout) {
        // SAFETY: forwarded from the caller's contract; every pointer handed
        // out by `allocate` came from this platform's `mem_alloc`.
        unsafe { self.platform.mem_free(pointer, layout) };
        self.used_bytes.fetch_sub(layout.size(), Ordering::Relaxed);
        self.outstanding_allocations.fetch_sub(1, Ordering::Relaxed);
    }
}

/// An allocator handle: a kernel's [`Kmem`] plus the site that allocates.
/// Cheap to clone (one reference count).
#[derive(Clone)]
pub struct KAlloc {
    kmem: Arc<Kmem>,
    site: &'static str,
}

impl KAlloc {
    /// An allocator for `site` on `kmem`.
    pub fn new(kmem: &Arc<Kmem>, site: &'static str) -> KAlloc {
        KAlloc {
            kmem: kmem.clone(),
            site,
        }
    }

    /// The same books, another site.
    pub fn with_site(&self, site: &'static str) -> KAlloc {
        KAlloc {
            kmem: self.kmem.clone(),
            site,
        }
    }

    /// The site this handle allocates for.
    pub fn site(&self) -> &'static str {
        self.site
    }

    /// An empty vector that will allocate here.
    pub fn vec<T>(&self) -> KVec<T> {
        KVec::new_in(self.clone())
    }

    /// A box holding `value`, or `ENOMEM`.
    pub fn try_box<T>(&self, value: T) -> KResult<KBox<T>> {
        KBox::try_new_in(value, self.clone()).map_err(|_| Errno::ENOMEM)
    }
}

// SAFETY: `allocate` hands out blocks from the memory hypercall, which are
// valid for `layout` and stay valid until `deallocate` returns them; zero-size
// requests get a well-aligned dangling pointer that is never freed. Clones
// share the same `Kmem`, so memory from one clone may be freed by another.
unsafe impl Allocator for KAlloc {
    fn allocate(&self, layout: Layout) -> Result<NonNull<[u8]>, AllocError> {
        if layout.size() == 0 {
            let dangling = NonNull::<u8>::dangling().with_addr(
                core::num::NonZeroUsize::new(layout.align()).expect("alignment is never zero"),
            );
            return Ok(NonNull::slice_from_raw_parts(dangling, 0));
        }
        match self.kmem.allocate(layout, self.site) {
            Some(pointer) => Ok(NonNull::slice_from_raw_parts(pointer, layout.size())),
            None => Err(AllocError),
        }
    }

    unsafe fn deallocate(&self, pointer: NonNull<u8>, layout: Layout) {
        if layout.size() == 0 {
            return;
        }
        // SAFETY: the `Allocator` contract says `pointer` was allocated by
        // this allocator (or a clone, which shares the `Kmem`) with `layout`.
        unsafe { self.kmem.free(pointer, layout) };
    }
}

/// Fallible growth for [`KVec`].
pub trait TryPush<T> {
    /// Appends `value`, or answers `ENOMEM` and leaves the vector unchanged.
    fn try_push(&mut self, value: T) -> KResult<()>;
    /// Appends a copy of every element, or answers `ENOMEM` and leaves the
    /// vector unchanged.
    fn try_extend_from_slice(&mut self, values: &[T]) -> KResult<()>
    where
        T: Clone;
    /// Inserts `value` at `index`, or answers `ENOMEM`.
    fn try_insert(&mut self, index: usize, value: T) -> KResult<()>;
    /// Resizes to `len`, filling with clones of `value`, or answers `ENOMEM`.
    fn try_resize(&mut self, len: usize, value: T) -> KResult<()>
    where
        T: Clone;
}

impl<T> TryPush<T> for KVec<T> {
    fn try_push(&mut self, value: T) -> KResult<()> {
        self.try_reserve(1).map_err(|_| Errno::ENOMEM)?;
        self.push(value);
        Ok(())
    }

    fn try_extend_from_slice(&mut self, values: &[T]) -> KResult<()>
    where
        T: Clone,
    {
        self.try_reserve(values.len()).map_err(|_| Errno::ENOMEM)?;
        self.extend_from_slice(values);
        Ok(())
    }

    fn try_insert(&mut self, index: usize, value: T) -> KResult<()> {
        self.try_reserve(1).map_err(|_| Errno::ENOMEM)?;
        self.insert(index, value);
        Ok(())
    }

    fn try_resize(&mut self, len: usize, value: T) -> KResult<()>
    where
        T: Clone,
    {
        if len > self.len() {
            self.try_reserve(len - self.len())
                .map_err(|_| Errno::ENOMEM)?;
        }
        self.resize(len, value);
        Ok(())
    }
}

/// Zeros to fill byte vectors from.
static ZEROS: [core::mem::MaybeUninit<u8>; 4096] = [core::mem::MaybeUninit::new(0); 4096];

/// Resizes a byte vector to `len`, zero-filling any growth, or answers
/// `ENOMEM`: what `try_resize(len, 0)` does, but the growth is filled with
/// whole-slice copies instead of a store per byte. Builds that instrument
/// every loop iteration (fuzzing, coverage) pay for the per-byte loop
/// dearly, and buffers of a page or more are filled on every I/O path.
pub fn try_resize_zeroed(vec: &mut KVec<u8>, len: usize) -> KResult<()> {
    let old = vec.len();
    if len <= old {
        vec.truncate(len);
        return Ok(());
    }
    vec.try_reserve(len - old).map_err(|_| Errno::ENOMEM)?;
    let mut filled = 0;
    for chunk in vec.spare_capacity_mut()[..len - old].chunks_mut(ZEROS.len()) {
        chunk.copy_from_slice(&ZEROS[..chunk.len()]);
        filled += chunk.len();
    }
    debug_assert_eq!(filled, len - old);
    // SAFETY: the `len - old` elements after the old length lie within the
    // capacity reserved above and were all initialised by the copies above.
    unsafe { vec.set_len(len) };
    Ok(())
}

/// A new vector holding a copy of `values`, or `ENOMEM`.
pub fn kvec_from_slice<T: Clone>(alloc: &KAlloc, values: &[T]) -> KResult<KVec<T>> {
    let mut vec = alloc.vec();
    vec.try_extend_from_slice(values)?;
    Ok(vec)
}
