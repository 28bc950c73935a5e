//! A simulated user address space: what the pointers of a raw system call
//! point into.
//!
//! A rump kernel's client is not a real process with page tables; its
//! "user memory" is whatever the caller says it is. [`UserSpace`] is that: a
//! set of mapped regions, each with a base address, its bytes and a writable
//! flag. The harness maps regions and fills them ([`UserSpace::map`],
//! [`UserSpace::write`]); the kernel reaches them only through the checked
//! copies [`UserSpace::copy_in`], [`UserSpace::copy_out`] and
//! [`UserSpace::copy_in_str`] (copyin/copyout in BSD terms), which answer
//! `EFAULT` for any byte outside a mapping, any write to a read-only mapping
//! and any address range that wraps around. Address 0 is never mapped, and
//! neither is anything at or above [`USER_END`] (where Linux puts the kernel).
//!
//! User memory is not kernel memory: it belongs to the caller, is not charged
//! to the kernel's books and may use the global allocator. Whatever the
//! kernel copies *in* goes into kernel memory ([`KVec`] through [`KAlloc`]),
//! which may fail with `ENOMEM` like any other kernel allocation.
//!
//! Regions are placed one after another from [`USER_BASE`], page-aligned and
//! with at least one unmapped guard page between two of them, so an access
//! that runs off the end of one mapping faults instead of landing in the next.
//! [`UserSpace::map_at`] places a region at a chosen address (for tests of the
//! top of the address space); regions that touch are treated as one range,
//! as real memory would be.

use alloc::collections::BTreeMap;
use alloc::vec;
use alloc::vec::Vec;

use crate::errno::{Errno, KResult};
use crate::kmem::{KAlloc, KVec, TryPush};

/// The size of a page: mappings are placed on page boundaries.
pub const PAGE_SIZE: u64 = 4096;
/// Where [`UserSpace::map`] places its first mapping. Everything below is
/// unmapped, so small integers used as pointers fault.
pub const USER_BASE: u64 = 0x1000_0000;
/// The first address that is never user memory (the end of the lower half of
/// the x86-64 address space, as on Linux).
pub const USER_END: u64 = 0x0000_8000_0000_0000;

/// One mapped region.
#[derive(Debug, Clone)]
struct Region {
    bytes: Vec<u8>,
    writable: bool,
}

/// Why [`UserSpace::map_at`] refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MapError {
    /// The range includes address 0, wraps around, or reaches [`USER_END`].
    OutOfRange,
    /// The range overlaps an existing mapping.
    Overlaps,
}

/// A simulated user address space (see the module documentation).
#[derive(Debug, Clone, Default)]
pub struct UserSpace {
    /// Regions by base address; they never overlap.
    regions: BTreeMap<u64, Region>,
    /// Where the next [`UserSpace::map`] may start looking.
    next_base: u64,
}

impl UserSpace {
    /// An empty address space: every access faults.
    pub fn new() -> UserSpace {
        UserSpace {
            regions: BTreeMap::new(),
            next_base: USER_BASE,
        }
    }

    /// Maps `len` zeroed bytes, read-write or read-only, and returns the base
    /// address. The region is page-aligned and followed by an unmapped guard
    /// page. A zero-length mapping reserves an address where every access of
    /// one byte or more faults.
    ///
    /// # Panics
    /// When the address space is exhausted (a harness error, not a kernel
    /// one).
    pub fn map(&mut self, len: usize, writable: bool) -> u64 {
        let span = (len as u64)
            .checked_next_multiple_of(PAGE_SIZE)
            .and_then(|span| span.checked_add(PAGE_SIZE))
            .expect("mapping length overflows the address space");
        let mut base = self.next_base.max(USER_BASE);
        // Skip past regions placed by `map_at` that are in the way.
        while let Some((&other, region)) = self
            .regions
            .range(..base.saturating_add(span))
            .next_back()
            .filter(|(&other, region)| other + region.bytes.len() as u64 + PAGE_SIZE > base)
        {
            let end = other + region.bytes.len() as u64;
            base = end
                .checked_next_multiple_of(PAGE_SIZE)
                .and_then(|end| end.checked_add(PAGE_SIZE))
                .expect("user address space exhausted");
        }
        assert!(
            base.checked_add(span).is_some_and(|end| end <= USER_END),
            "user address space exhausted"
        );
        self.regions.insert(
            base,
            Region {
                bytes: vec![0; len],
                writable,
            },
        );
        self.next_base = base + span;
        base
    }

    /// Maps a copy of `bytes` and returns its base address.
    pub fn map_bytes(&mut self, bytes: &[u8], writable: bool) -> u64 {
        let addr = self.map(bytes.len(), writable);
        let region = self.regions.get_mut(&addr).expect("just mapped");
        region.bytes.copy_from_slice(bytes);
        addr
    }

    /// Maps `bytes` followed by a NUL, read-only: a C string such as a path.
    pub fn map_str(&mut self, bytes: &[u8]) -> u64 {
        let addr = self.map(bytes.len() + 1, false);
        let region = self.regions.get_mut(&addr).expect("just mapped");
        region.bytes[..bytes.len()].copy_from_slice(bytes);
        addr
    }

    /// Maps `len` zeroed bytes at exactly `addr` (no alignment needed).
    pub fn map_at(&mut self, addr: u64, len: usize, writable: bool) -> Result<u64, MapError> {
        let end = addr
            .checked_add(len as u64)
            .filter(|end| addr != 0 && *end <= USER_END)
            .ok_or(MapError::OutOfRange)?;
        let overlaps_before = self
            .regions
            .range(..=addr)
            .next_back()
            .is_some_and(|(&base, region)| base + region.bytes.len() as u64 > addr);
        let overlaps_after = self.regions.range(addr..end).next().is_some() && len > 0;
        if overlaps_before || overlaps_after || self.regions.contains_key(&addr) {
            return Err(MapError::Overlaps);
        }
        self.regions.insert(
            addr,
            Region {
                bytes: vec![0; len],
                writable,
            },
        );
        Ok(addr)
    }

    /// Removes the mapping based at `addr`; `false` if there is none.
    pub fn unmap(&mut self, addr: u64) -> bool {
        self.regions.remove(&addr).is_some()
    }

    /// Makes the mapping based at `addr` writable or read-only; `false` if
    /// there is none.
    pub fn protect(&mut self, addr: u64, writable: bool) -> bool {
        match self.regions.get_mut(&addr) {
            Some(region) => {
                region.writable = writable;
                true
            }
            None => false,
        }
    }

    /// The number of mappings.
    pub fn mapping_count(&self) -> usize {
        self.regions.len()
    }

    /// Harness side: writes `bytes` at `addr`, whatever the protection (the
    /// harness sets up its own memory, as a debugger would). `EFAULT` if any
    /// byte is unmapped; then nothing is written.
    pub fn write(&mut self, addr: u64, bytes: &[u8]) -> KResult<()> {
        self.check(addr, bytes.len(), false)?;
        self.store(addr, bytes);
        Ok(())
    }

    /// Harness side: reads `len` bytes at `addr`, or `EFAULT`.
    pub fn read(&self, addr: u64, len: usize) -> KResult<Vec<u8>> {
        self.check(addr, len, false)?;
        let mut bytes = vec![0; len];
        self.load(addr, &mut bytes);
        Ok(bytes)
    }

    /// Kernel side: fills `buf` from user memory at `addr` (copyin). `EFAULT`
    /// if any byte of the range is unmapped or the range wraps around; then
    /// `buf` is left as it was. A zero-length copy succeeds at any address.
    pub fn copy_in(&self, addr: u64, buf: &mut [u8]) -> KResult<()> {
        self.check(addr, buf.len(), false)?;
        self.load(addr, buf);
        Ok(())
    }

    /// Kernel side: copies `data` to user memory at `addr` (copyout).
    /// `EFAULT` if any byte of the range is unmapped or read-only, or the
    /// range wraps around; then nothing is written.
    pub fn copy_out(&mut self, addr: u64, data: &[u8]) -> KResult<()> {
        self.check(addr, data.len(), true)?;
        self.store(addr, data);
        Ok(())
    }

    /// Kernel side: checks that `len` bytes at `addr` could be copied out,
    /// without copying (used before an operation whose result cannot be taken
    /// back, such as a read that moves the file offset).
    pub fn check_writable(&self, addr: u64, len: usize) -> KResult<()> {
        self.check(addr, len, true)
    }

    /// Kernel side: checks that `len` bytes at `addr` could be copied in.
    pub fn check_readable(&self, addr: u64, len: usize) -> KResult<()> {
        self.check(addr, len, false)
    }

    /// Kernel side: how many leading bytes of `[addr, addr + len)` are mapped
    /// (and writable, if `write`): what a copy that stops at the first fault
    /// would move.
    pub fn mapped_prefix(&self, addr: u64, len: usize, write: bool) -> usize {
        let Some(end) = addr.checked_add(len as u64) else {
            return self.mapped_prefix(addr, (u64::MAX - addr) as usize, write);
        };
        let mut cursor = addr;
        while cursor < end {
            match self.region_at(cursor) {
                Some((base, region)) if region.writable || !write => {
                    cursor = base + region.bytes.len() as u64;
                }
                _ => break,
            }
        }
        (cursor.min(end) - addr) as usize
    }

    /// Kernel side: copies a NUL-terminated string at `addr` into kernel
    /// memory allocated from `alloc`, without the NUL. At most `max` bytes
    /// are looked at, the NUL included: a string with no NUL among them is
    /// `ENAMETOOLONG` (so `max` = `PATH_MAX` accepts paths of up to
    /// `PATH_MAX - 1` bytes, as Linux does). A string that runs into unmapped
    /// memory before its NUL is `EFAULT`; a refused allocation `ENOMEM`.
    pub fn copy_in_str(&self, addr: u64, max: usize, alloc: &KAlloc) -> KResult<KVec<u8>> {
        let mut out = alloc.vec();
        let mut cursor = addr;
        let mut remaining = max;
        while remaining > 0 {
            let (region_base, region) = self.region_at(cursor).ok_or(Errno::EFAULT)?;
            let start = (cursor - region_base) as usize;
            let available = &region.bytes[start..];
            let window = &available[..available.len().min(remaining)];
            if let Some(nul) = window.iter().position(|&byte| byte == 0) {
                out.try_extend_from_slice(&window[..nul])?;
                return Ok(out);
            }
            out.try_extend_from_slice(window)?;
            remaining -= window.len();
            cursor = cursor
                .checked_add(window.len() as u64)
                .ok_or(Errno::EFAULT)?;
        }
        Err(Errno::ENAMETOOLONG)
    }

    /// The region containing `addr` and its base, if any.
    fn region_at(&self, addr: u64) -> Option<(u64, &Region)> {
        let (&base, region) = self.regions.range(..=addr).next_back()?;
        (addr - base < region.bytes.len() as u64).then_some((base, region))
    }

    /// Whether `[addr, addr + len)` is mapped (and writable, if asked),
    /// possibly across several touching regions.
    fn check(&self, addr: u64, len: usize, need_write: bool) -> KResult<()> {
        if len == 0 {
            return Ok(());
        }
        let end = addr.checked_add(len as u64).ok_or(Errno::EFAULT)?;
        let mut cursor = addr;
        while cursor < end {
            let (base, region) = self.region_at(cursor).ok_or(Errno::EFAULT)?;
            if need_write && !region.writable {
                return Err(Errno::EFAULT);
            }
            cursor = base + region.bytes.len() as u64;
        }
        Ok(())
    }

    /// Copies from checked user memory into `buf`.
    fn load(&self, addr: u64, buf: &mut [u8]) {
        let mut done = 0;
        while done < buf.len() {
            let cursor = addr + done as u64;
            let (base, region) = self.region_at(cursor).expect("range was checked");
            let start = (cursor - base) as usize;
            let chunk = (region.bytes.len() - start).min(buf.len() - done);
            buf[done..done + chunk].copy_from_slice(&region.bytes[start..start + chunk]);
            done += chunk;
        }
    }

    /// Copies `data` into checked user memory.
    fn store(&mut self, addr: u64, data: &[u8]) {
        let mut done = 0;
        while done < data.len() {
            let cursor = addr + done as u64;
            let (&base, region) = self
                .regions
                .range_mut(..=cursor)
                .next_back()
                .expect("range was checked");
            let start = (cursor - base) as usize;
            let chunk = (region.bytes.len() - start).min(data.len() - done);
            region.bytes[start..start + chunk].copy_from_slice(&data[done..done + chunk]);
            done += chunk;
        }
    }
}
