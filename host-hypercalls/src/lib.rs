//! The rumpkit host platform: an implementation of the hypercall interface
//! ([`rumpkit_hypercall::Hypercalls`]) over the standard library, so that the
//! very same kernel and drivers that the deterministic platform tests also run
//! for real — on OS threads, on the real clock, with real memory. It depends
//! on the hypercall interface and `std` only, and knows nothing of the kernel.
//!
//! # Using it
//!
//! ```
//! use std::sync::Arc;
//! use rumpkit_host::HostPlatform;
//! use rumpkit_hypercall::Hypercalls;
//!
//! let host = HostPlatform::builder()
//!     .block_device("md0", 4 << 20, 512)
//!     .param("md.units", "1")
//!     .build();
//! let platform: Arc<dyn Hypercalls> = host.clone();
//! platform.console_write(b"hello\n");
//! assert_eq!(host.console_output(), b"hello\n");
//! assert_eq!(host.mem_stats().outstanding_bytes, 0);
//! ```
//!
//! # How each group maps onto the host
//!
//! * **memory** — `std::alloc`, with books ([`HostPlatform::mem_stats`]) and
//!   an optional limit beyond which allocations are refused;
//! * **clocks** — `Instant` (from the platform's creation) and `SystemTime`;
//! * **random** — a SplitMix64 stream seeded from the clock and std's
//!   per-process hash keys (or a fixed seed from the builder);
//! * **threads** — one `std::thread` per kernel thread; the current thread's
//!   id lives in a thread-local, set when the thread starts, and assigned
//!   lazily to threads the platform did not create (a test's main thread);
//! * **locks** — the hypercall interface enters and exits a mutex in separate
//!   calls, which `std::sync::Mutex` guards cannot express; each hypercall
//!   lock is therefore a small state machine (an owner field behind a
//!   `std::sync::Mutex`, with a `Condvar` to wait on), kept in a table by id;
//! * **block I/O** — named devices configured at construction, in memory or
//!   backed by a file; each opened device has a worker thread that performs
//!   requests in submission order and calls the completions there;
//! * **console** — captured into a buffer ([`HostPlatform::console_output`]),
//!   optionally echoed to stdout; **params** — a map; **panic** — a Rust
//!   panic; **exit** — `std::process::exit`.
//!
//! Several kernels may share one platform; every id is unique within it.

use std::alloc::Layout;
use std::collections::hash_map::RandomState;
use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::hash::{BuildHasher, Hasher};
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rumpkit_hypercall::{
    BioCallback, BioCompletion, BioOp, BioRequest, BlockDevId, BlockDevInfo, CondvarId, HyperError,
    Hypercalls, MutexId, RwLockId, RwMode, ThreadEntry, ThreadId,
};

// ----- threads ---------------------------------------------------------------

/// Thread ids are unique in the process, hence within every platform.
static NEXT_THREAD_ID: AtomicU64 = AtomicU64::new(1);

thread_local! {
    static CURRENT_THREAD: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

fn current_thread_id() -> ThreadId {
    CURRENT_THREAD.with(|current| {
        if current.get() == 0 {
            current.set(NEXT_THREAD_ID.fetch_add(1, Ordering::Relaxed));
        }
        ThreadId(current.get())
    })
}

/// Locks a std mutex, ignoring poisoning: a panicking kernel thread already
/// fails its test, and the platform's own state stays consistent because
/// every critical section here is short and panic-free.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

// ----- locks -------------------------------------------------------------------

#[derive(Default)]
struct HostMutex {
    owner: Mutex<Option<ThreadId>>,
    released: Condvar,
}

#[derive(Default)]
struct RwState {
    readers: usize,
    writer: Option<ThreadId>,
}

#[derive(Default)]
struct HostRwLock {
    state: Mutex<RwState>,
    released: Condvar,
}

#[derive(Default)]
struct HostCondvar {
    /// Guards nothing but the wait itself: a waiter takes it before it lets
    /// go of the hypercall mutex, and signallers take it before notifying, so
    /// a signal cannot slip in between the release and the wait.
    gate: Mutex<()>,
    cond: Condvar,
}

/// Objects by id. Ids are never reused, so a stale id finds nothing.
struct Table<T> {
    next_id: AtomicU64,
    objects: RwLock<HashMap<u64, Arc<T>>>,
}

impl<T: Default> Table<T> {
    fn new() -> Table<T> {
        Table {
            next_id: AtomicU64::new(1),
            objects: RwLock::new(HashMap::new()),
        }
    }

    fn create(&self) -> u64 {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.objects
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id, Arc::new(T::default()));
        id
    }

    fn get(&self, id: u64, what: &str) -> Arc<T> {
        match self
            .objects
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&id)
        {
            Some(object) => object.clone(),
            None => panic!("host platform: no {what} with id {id}"),
        }
    }

    fn destroy(&self, id: u64) -> Option<Arc<T>> {
        self.objects
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&id)
    }

    fn len(&self) -> usize {
        self.objects.read().unwrap_or_else(|p| p.into_inner()).len()
    }
}

// ----- block devices -----------------------------------------------------------

enum Backing {
    Memory(Mutex<Vec<u8>>),
    File(File),
}

struct Device {
    name: String,
    size_bytes: u64,
    block_size: u32,
    read_only: bool,
    backing: Backing,
    /// When set, every request fails with [`HyperError::Io`].
    failing: AtomicBool,
}

impl Device {
    fn perform(&self, request: &mut BioRequest) -> Result<usize, HyperError> {
        if self.failing.load(Ordering::Relaxed) {
            return Err(HyperError::Io);
        }
        let length = request.buf.len() as u64;
        if request.op != BioOp::Flush {
            let block = u64::from(self.block_size);
            let in_range = request
                .offset
                .checked_add(length)
                .is_some_and(|end| end <= self.size_bytes);
            if request.offset % block != 0 || length % block != 0 || !in_range {
                return Err(HyperError::Invalid);
            }
        }
        let start = request.offset as usize;
        let end = start + request.buf.len();
        match (request.op, &self.backing) {
            (BioOp::Read, Backing::Memory(data)) => {
                request.buf.copy_from_slice(&lock(data)[start..end]);
            }
            (BioOp::Read, Backing::File(file)) => file
                .read_exact_at(&mut request.buf, request.offset)
                .map_err(|_| HyperError::Io)?,
            (BioOp::Write, _) if self.read_only => return Err(HyperError::Invalid),
            (BioOp::Write, Backing::Memory(data)) => {
                lock(data)[start..end].copy_from_slice(&request.buf);
            }
            (BioOp::Write, Backing::File(file)) => file
                .write_all_at(&request.buf, request.offset)
                .map_err(|_| HyperError::Io)?,
            (BioOp::Flush, Backing::Memory(_)) => {}
            (BioOp::Flush, Backing::File(file)) => file.sync_data().map_err(|_| HyperError::Io)?,
        }
        Ok(request.buf.len())
    }
}

type Job = (BioRequest, BioCallback);

/// An opened device: the queue to its worker thread.
struct OpenDevice {
    queue: mpsc::Sender<Job>,
    worker: JoinHandle<()>,
}

// ----- the platform --------------------------------------------------------------

/// A snapshot of the host platform's memory books.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HostMemStats {
    /// Bytes allocated through `mem_alloc` and not yet freed.
    pub outstanding_bytes: usize,
    /// Allocations not yet freed.
    pub outstanding_allocations: usize,
    /// Allocations granted since the platform was made.
    pub total_allocations: u64,
    /// Allocations refused by the platform's limit.
    pub refused_allocations: u64,
}

/// How many platform objects are alive: useful to check that kernels clean
/// up after themselves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HostObjectCounts {
    /// Mutexes created and not destroyed.
    pub mutexes: usize,
    /// Reader-writer locks created and not destroyed.
    pub rw_locks: usize,
    /// Condition variables created and not destroyed.
    pub condvars: usize,
    /// Threads created and not joined.
    pub threads: usize,
    /// Block devices opened and not closed.
    pub open_block_devices: usize,
}

/// Builds a [`HostPlatform`].
#[derive(Default)]
pub struct HostBuilder {
    memory_devices: Vec<(String, u64, u32)>,
    file_devices: Vec<(String, PathBuf, u32, bool)>,
    params: BTreeMap<String, String>,
    echo_console: bool,
    memory_limit_bytes: Option<usize>,
    seed: Option<u64>,
}

impl HostBuilder {
    /// Adds a zero-filled in-memory block device `name` of `size_bytes`
    /// (rounded down to whole blocks) with `block_size`-byte blocks.
    pub fn block_device(mut self, name: &str, size_bytes: u64, block_size: u32) -> Self {
        self.memory_devices
            .push((name.to_string(), size_bytes, block_size));
        self
    }

    /// Adds a block device `name` backed by the file at `path` (opened at
    /// [`HostBuilder::build`]; its size is rounded down to whole blocks).
    pub fn file_block_device(
        mut self,
        name: &str,
        path: impl AsRef<Path>,
        block_size: u32,
        read_only: bool,
    ) -> Self {
        self.file_devices.push((
            name.to_string(),
            path.as_ref().to_path_buf(),
            block_size,
            read_only,
        ));
        self
    }

    /// Sets the named parameter `name` (read by the kernel via `param`).
    pub fn param(mut self, name: &str, value: &str) -> Self {
        self.params.insert(name.to_string(), value.to_string());
        self
    }

    /// Also writes console output to stdout (it is always captured).
    pub fn echo_console(mut self, echo: bool) -> Self {
        self.echo_console = echo;
        self
    }

    /// Refuses allocations that would take outstanding memory beyond
    /// `limit_bytes` (on top of any limit the kernel keeps itself).
    pub fn memory_limit(mut self, limit_bytes: usize) -> Self {
        self.memory_limit_bytes = Some(limit_bytes);
        self
    }

    /// Seeds the random stream (otherwise seeded from the clock).
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// Makes the platform.
    ///
    /// # Panics
    /// If a file-backed device cannot be opened; use
    /// [`HostBuilder::try_build`] to get the error instead.
    pub fn build(self) -> Arc<HostPlatform> {
        self.try_build()
            .unwrap_or_else(|error| panic!("host platform: {error}"))
    }

    /// Makes the platform, or says which backing file could not be opened.
    pub fn try_build(self) -> std::io::Result<Arc<HostPlatform>> {
        let mut devices = BTreeMap::new();
        for (name, size_bytes, block_size) in self.memory_devices {
            assert!(
                block_size >= 512 && block_size.is_power_of_two(),
                "block size {block_size} of {name} is not a power of two >= 512"
            );
            let size_bytes = size_bytes - size_bytes % u64::from(block_size);
            let data = vec![0u8; size_bytes as usize];
            devices.insert(
                name.clone(),
                Arc::new(Device {
                    name,
                    size_bytes,
                    block_size,
                    read_only: false,
                    backing: Backing::Memory(Mutex::new(data)),
                    failing: AtomicBool::new(false),
                }),
            );
        }
        for (name, path, block_size, read_only) in self.file_devices {
            let file = File::options().read(true).write(!read_only).open(&path)?;
            let length = file.metadata()?.len();
            devices.insert(
                name.clone(),
                Arc::new(Device {
                    name,
                    size_bytes: length - length % u64::from(block_size),
                    block_size,
                    read_only,
                    backing: Backing::File(file),
                    failing: AtomicBool::new(false),
                }),
            );
        }
        let seed = self.seed.unwrap_or_else(|| {
            let mut hasher = RandomState::new().build_hasher();
            hasher.write_u128(
                SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .unwrap_or_default()
                    .as_nanos(),
            );
            hasher.finish()
        });
        Ok(Arc::new(HostPlatform {
            start: Instant::now(),
            memory_limit_bytes: self.memory_limit_bytes.unwrap_or(usize::MAX),
            outstanding_bytes: AtomicUsize::new(0),
            outstanding_allocations: AtomicUsize::new(0),
            total_allocations: AtomicU64::new(0),
            refused_allocations: AtomicU64::new(0),
            random_state: AtomicU64::new(seed),
            threads: Mutex::new(HashMap::new()),
            mutexes: Table::new(),
            rw_locks: Table::new(),
            condvars: Table::new(),
            devices,
            next_device_id: AtomicU64::new(1),
            open_devices: Mutex::new(HashMap::new()),
            console: Mutex::new(Vec::new()),
            echo_console: self.echo_console,
            params: self.params,
        }))
    }
}

/// The host platform. Make one with [`HostPlatform::builder`] (or
/// [`HostPlatform::new`] for one without devices or parameters) and hand it to
/// the kernel as an `Arc<dyn Hypercalls>`.
pub struct HostPlatform {
    start: Instant,
    memory_limit_bytes: usize,
    outstanding_bytes: AtomicUsize,
    outstanding_allocations: AtomicUsize,
    total_allocations: AtomicU64,
    refused_allocations: AtomicU64,
    random_state: AtomicU64,
    threads: Mutex<HashMap<u64, JoinHandle<()>>>,
    mutexes: Table<HostMutex>,
    rw_locks: Table<HostRwLock>,
    condvars: Table<HostCondvar>,
    devices: BTreeMap<String, Arc<Device>>,
    next_device_id: AtomicU64,
    open_devices: Mutex<HashMap<u64, OpenDevice>>,
    console: Mutex<Vec<u8>>,
    echo_console: bool,
    params: BTreeMap<String, String>,
}

impl HostPlatform {
    /// A builder for a platform with devices and parameters.
    pub fn builder() -> HostBuilder {
        HostBuilder::default()
    }

    /// A platform with no block devices and no parameters.
    pub fn new() -> Arc<HostPlatform> {
        HostBuilder::default().build()
    }

    /// The memory books.
    pub fn mem_stats(&self) -> HostMemStats {
        HostMemStats {
            outstanding_bytes: self.outstanding_bytes.load(Ordering::Relaxed),
            outstanding_allocations: self.outstanding_allocations.load(Ordering::Relaxed),
            total_allocations: self.total_allocations.load(Ordering::Relaxed),
            refused_allocations: self.refused_allocations.load(Ordering::Relaxed),
        }
    }

    /// How many platform objects are alive.
    pub fn object_counts(&self) -> HostObjectCounts {
        HostObjectCounts {
            mutexes: self.mutexes.len(),
            rw_locks: self.rw_locks.len(),
            condvars: self.condvars.len(),
            threads: lock(&self.threads).len(),
            open_block_devices: lock(&self.open_devices).len(),
        }
    }

    /// Everything written to the console so far.
    pub fn console_output(&self) -> Vec<u8> {
        lock(&self.console).clone()
    }

    /// Makes every later request on device `name` fail with an I/O error
    /// (`failing == true`) or succeed again. Returns `false` if there is no
    /// such device.
    pub fn set_device_failing(&self, name: &str, failing: bool) -> bool {
        match self.devices.get(name) {
            Some(device) => {
                device.failing.store(failing, Ordering::Relaxed);
                true
            }
            None => false,
        }
    }

    /// A copy of the bytes of device `name` (for checks from tests), or
    /// `None` if there is no such device or it cannot be read.
    pub fn device_contents(&self, name: &str) -> Option<Vec<u8>> {
        let device = self.devices.get(name)?;
        match &device.backing {
            Backing::Memory(data) => Some(lock(data).clone()),
            Backing::File(file) => {
                let mut bytes = vec![0u8; device.size_bytes as usize];
                file.read_exact_at(&mut bytes, 0).ok()?;
                Some(bytes)
            }
        }
    }

    fn deadline_instant(&self, deadline_ns: u64) -> Instant {
        self.start
            .checked_add(Duration::from_nanos(deadline_ns))
            .unwrap_or_else(|| self.start + Duration::from_secs(u32::MAX.into()))
    }

    fn next_random(&self) -> u64 {
        // SplitMix64: one atomic add per 8 bytes, good enough for a kernel's
        // entropy pool on the host (nothing here is cryptographic).
        let mut z = self
            .random_state
            .fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed)
            .wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

impl Drop for HostPlatform {
    fn drop(&mut self) {
        // Stop the workers of devices a kernel forgot to close.
        let open = std::mem::take(&mut *lock(&self.open_devices));
        for (_, device) in open {
            drop(device.queue);
            let _ = device.worker.join();
        }
    }
}

impl Hypercalls for HostPlatform {
    fn mem_alloc(&self, layout: Layout, _site: &'static str) -> Option<NonNull<u8>> {
        let size = layout.size();
        let previous = self.outstanding_bytes.fetch_add(size, Ordering::Relaxed);
        if previous
            .checked_add(size)
            .is_none_or(|total| total > self.memory_limit_bytes)
        {
            self.outstanding_bytes.fetch_sub(size, Ordering::Relaxed);
            self.refused_allocations.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        // SAFETY: the interface promises `layout.size()` is never zero.
        let pointer = NonNull::new(unsafe { std::alloc::alloc(layout) });
        match pointer {
            Some(_) => {
                self.outstanding_allocations.fetch_add(1, Ordering::Relaxed);
                self.total_allocations.fetch_add(1, Ordering::Relaxed);
            }
            None => {
                self.outstanding_bytes.fetch_sub(size, Ordering::Relaxed);
                self.refused_allocations.fetch_add(1, Ordering::Relaxed);
            }
        }
        pointer
    }

    unsafe fn mem_free(&self, ptr: NonNull<u8>, layout: Layout) {
        // SAFETY: the caller promises `ptr` came from `mem_alloc` on this
        // platform with `layout`, i.e. from `std::alloc::alloc(layout)`.
        unsafe { std::alloc::dealloc(ptr.as_ptr(), layout) };
        self.outstanding_bytes
            .fetch_sub(layout.size(), Ordering::Relaxed);
        self.outstanding_allocations.fetch_sub(1, Ordering::Relaxed);
    }

    fn clock_monotonic_ns(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    fn clock_wall_ns(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|since| u64::try_from(since.as_nanos()).unwrap_or(u64::MAX))
            .unwrap_or(0)
    }

    fn sleep_until(&self, deadline_ns: u64) {
        let deadline = self.deadline_instant(deadline_ns);
        let now = Instant::now();
        if deadline > now {
            std::thread::sleep(deadline - now);
        }
    }

    fn random_fill(&self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let bytes = self.next_random().to_le_bytes();
            chunk.copy_from_slice(&bytes[..chunk.len()]);
        }
    }

    fn thread_create(&self, name: &str, entry: ThreadEntry) -> Result<ThreadId, HyperError> {
        let id = NEXT_THREAD_ID.fetch_add(1, Ordering::Relaxed);
        // Hold the table lock across the spawn so a fast thread cannot be
        // joined before its handle is in the table.
        let mut threads = lock(&self.threads);
        let handle = std::thread::Builder::new()
            .name(name.to_string())
            .spawn(move || {
                CURRENT_THREAD.with(|current| current.set(id));
                entry();
            })
            .map_err(|_| HyperError::Again)?;
        threads.insert(id, handle);
        Ok(ThreadId(id))
    }

    fn thread_join(&self, thread: ThreadId) {
        assert_ne!(
            thread,
            current_thread_id(),
            "host platform: a thread joins itself"
        );
        let handle = lock(&self.threads).remove(&thread.0);
        let Some(handle) = handle else {
            panic!("host platform: join of unknown or already joined thread {thread:?}");
        };
        if let Err(payload) = handle.join() {
            // A kernel thread panicked: fail the joiner the same way.
            std::panic::resume_unwind(payload);
        }
    }

    fn thread_current(&self) -> ThreadId {
        current_thread_id()
    }

    fn thread_yield(&self) {
        std::thread::yield_now();
    }

    fn mutex_create(&self, _name: &'static str) -> MutexId {
        MutexId(self.mutexes.create())
    }

    fn mutex_destroy(&self, mutex: MutexId) {
        if let Some(object) = self.mutexes.destroy(mutex.0) {
            assert!(
                lock(&object.owner).is_none(),
                "host platform: destroying a held mutex"
            );
        }
    }

    fn mutex_enter(&self, mutex: MutexId) {
        let object = self.mutexes.get(mutex.0, "mutex");
        let me = current_thread_id();
        let mut owner = lock(&object.owner);
        assert_ne!(*owner, Some(me), "host platform: mutex entered recursively");
        while owner.is_some() {
            owner = object
                .released
                .wait(owner)
                .unwrap_or_else(|p| p.into_inner());
        }
        *owner = Some(me);
    }

    fn mutex_try_enter(&self, mutex: MutexId) -> bool {
        let object = self.mutexes.get(mutex.0, "mutex");
        let mut owner = lock(&object.owner);
        if owner.is_some() {
            return false;
        }
        *owner = Some(current_thread_id());
        true
    }

    fn mutex_exit(&self, mutex: MutexId) {
        let object = self.mutexes.get(mutex.0, "mutex");
        let mut owner = lock(&object.owner);
        assert_eq!(
            *owner,
            Some(current_thread_id()),
            "host platform: mutex released by a thread that does not hold it"
        );
        *owner = None;
        object.released.notify_one();
    }

    fn rw_create(&self, _name: &'static str) -> RwLockId {
        RwLockId(self.rw_locks.create())
    }

    fn rw_destroy(&self, lock_id: RwLockId) {
        self.rw_locks.destroy(lock_id.0);
    }

    fn rw_enter(&self, lock_id: RwLockId, mode: RwMode) {
        let object = self.rw_locks.get(lock_id.0, "rw lock");
        let mut state = lock(&object.state);
        match mode {
            RwMode::Read => {
                while state.writer.is_some() {
                    state = object
                        .released
                        .wait(state)
                        .unwrap_or_else(|p| p.into_inner());
                }
                state.readers += 1;
            }
            RwMode::Write => {
                while state.writer.is_some() || state.readers > 0 {
                    state = object
                        .released
                        .wait(state)
                        .unwrap_or_else(|p| p.into_inner());
                }
                state.writer = Some(current_thread_id());
            }
        }
    }

    fn rw_try_enter(&self, lock_id: RwLockId, mode: RwMode) -> bool {
        let object = self.rw_locks.get(lock_id.0, "rw lock");
        let mut state = lock(&object.state);
        match mode {
            RwMode::Read if state.writer.is_none() => state.readers += 1,
            RwMode::Write if state.writer.is_none() && state.readers == 0 => {
                state.writer = Some(current_thread_id())
            }
            _ => return false,
        }
        true
    }

    fn rw_exit(&self, lock_id: RwLockId) {
        let object = self.rw_locks.get(lock_id.0, "rw lock");
        let mut state = lock(&object.state);
        if state.writer.is_some() {
            assert_eq!(
                state.writer,
                Some(current_thread_id()),
                "host platform: rw lock released by a thread that does not hold it"
            );
            state.writer = None;
        } else {
            assert!(
                state.readers > 0,
                "host platform: rw lock released but not held"
            );
            state.readers -= 1;
        }
        object.released.notify_all();
    }

    fn cv_create(&self, _name: &'static str) -> CondvarId {
        CondvarId(self.condvars.create())
    }

    fn cv_destroy(&self, cv: CondvarId) {
        self.condvars.destroy(cv.0);
    }

    fn cv_wait(&self, cv: CondvarId, mutex: MutexId) {
        let object = self.condvars.get(cv.0, "condvar");
        let gate = lock(&object.gate);
        self.mutex_exit(mutex);
        drop(object.cond.wait(gate).unwrap_or_else(|p| p.into_inner()));
        self.mutex_enter(mutex);
    }

    fn cv_wait_until(&self, cv: CondvarId, mutex: MutexId, deadline_ns: u64) -> bool {
        let object = self.condvars.get(cv.0, "condvar");
        let deadline = self.deadline_instant(deadline_ns);
        let gate = lock(&object.gate);
        let now = Instant::now();
        if now >= deadline {
            return false;
        }
        self.mutex_exit(mutex);
        let (gate, _) = object
            .cond
            .wait_timeout(gate, deadline - now)
            .unwrap_or_else(|p| p.into_inner());
        drop(gate);
        self.mutex_enter(mutex);
        Instant::now() < deadline
    }

    fn cv_signal(&self, cv: CondvarId) {
        let object = self.condvars.get(cv.0, "condvar");
        let _gate = lock(&object.gate);
        object.cond.notify_one();
    }

    fn cv_broadcast(&self, cv: CondvarId) {
        let object = self.condvars.get(cv.0, "condvar");
        let _gate = lock(&object.gate);
        object.cond.notify_all();
    }

    fn bio_open(&self, name: &str) -> Result<BlockDevInfo, HyperError> {
        let device = self.devices.get(name).ok_or(HyperError::NoDevice)?.clone();
        let id = self.next_device_id.fetch_add(1, Ordering::Relaxed);
        let info = BlockDevInfo {
            id: BlockDevId(id),
            size_bytes: device.size_bytes,
            block_size: device.block_size,
            read_only: device.read_only,
        };
        let (queue, jobs) = mpsc::channel::<Job>();
        let worker = std::thread::Builder::new()
            .name(format!("bio-{}", device.name))
            .spawn(move || {
                for (mut request, done) in jobs {
                    let result = device.perform(&mut request);
                    done(BioCompletion {
                        op: request.op,
                        offset: request.offset,
                        buf: request.buf,
                        result,
                    });
                }
            })
            .map_err(|_| HyperError::Again)?;
        lock(&self.open_devices).insert(id, OpenDevice { queue, worker });
        Ok(info)
    }

    fn bio_submit(&self, dev: BlockDevId, request: BioRequest, done: BioCallback) {
        let open = lock(&self.open_devices);
        let Some(device) = open.get(&dev.0) else {
            drop(open);
            // Completing on a thread of its own keeps the promise that `done`
            // never runs inside this call.
            let spawned = std::thread::Builder::new()
                .name("bio-nodev".to_string())
                .spawn(move || {
                    done(BioCompletion {
                        op: request.op,
                        offset: request.offset,
                        buf: request.buf,
                        result: Err(HyperError::NoDevice),
                    })
                });
            if let Ok(handle) = spawned {
                drop(handle);
            }
            return;
        };
        if device.queue.send((request, done)).is_err() {
            panic!("host platform: the worker of device {dev:?} is gone");
        }
    }

    fn bio_close(&self, dev: BlockDevId) {
        let open = lock(&self.open_devices).remove(&dev.0);
        if let Some(open) = open {
            drop(open.queue);
            if open.worker.thread().id() != std::thread::current().id() {
                let _ = open.worker.join();
            }
        }
    }

    fn console_write(&self, bytes: &[u8]) {
        lock(&self.console).extend_from_slice(bytes);
        if self.echo_console {
            let mut stdout = std::io::stdout().lock();
            let _ = stdout.write_all(bytes);
            let _ = stdout.flush();
        }
    }

    fn param(&self, name: &str) -> Option<String> {
        self.params.get(name).cloned()
    }

    fn panic(&self, message: &str) -> ! {
        panic!("kernel panic: {message}")
    }

    fn exit(&self, status: i32) -> ! {
        std::process::exit(status)
    }
}
