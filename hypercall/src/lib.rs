//! The rumpkit hypercall interface: the one narrow door through which a
//! rumpkit kernel reaches the machine it runs on.
//!
//! This crate is the bottom of the layer stack. It has no dependencies and
//! knows nothing of kernels, drivers or platforms; it only says what a
//! platform must provide. It is modelled on NetBSD's `rumpuser(3)`, but shaped
//! for Rust: one object-safe trait, [`Hypercalls`], grouped by topic, with
//! typed handles instead of C pointers and owned buffers instead of
//! scatter-gather lists.
//!
//! # Groups
//!
//! | group | calls |
//! |---|---|
//! | handshake | [`Hypercalls::version`] |
//! | memory | [`Hypercalls::mem_alloc`], [`Hypercalls::mem_free`] |
//! | clocks | [`Hypercalls::clock_monotonic_ns`], [`Hypercalls::clock_wall_ns`], [`Hypercalls::sleep_until`] |
//! | random | [`Hypercalls::random_fill`] |
//! | threads | [`Hypercalls::thread_create`], [`Hypercalls::thread_join`], [`Hypercalls::thread_current`], [`Hypercalls::thread_yield`] |
//! | synchronisation | `mutex_*`, `rw_*`, `cv_*` |
//! | block I/O | [`Hypercalls::bio_open`], [`Hypercalls::bio_submit`], [`Hypercalls::bio_close`] |
//! | console and params | [`Hypercalls::console_write`], [`Hypercalls::param`] |
//! | tracing | [`Hypercalls::kernel_event`] |
//! | termination | [`Hypercalls::panic`], [`Hypercalls::exit`] |
//!
//! # Rules every implementation and every caller follows
//!
//! * **All blocking happens inside hypercalls.** A kernel never spins waiting
//!   for another thread: it waits in [`Hypercalls::mutex_enter`],
//!   [`Hypercalls::rw_enter`], [`Hypercalls::cv_wait`],
//!   [`Hypercalls::cv_wait_until`], [`Hypercalls::sleep_until`],
//!   [`Hypercalls::thread_join`] or [`Hypercalls::thread_yield`]. That is what
//!   lets the deterministic platform run every kernel thread as a coroutine on
//!   one OS thread and take a scheduling decision at each of those calls.
//! * **Memory may fail.** [`Hypercalls::mem_alloc`] returns `None` when the
//!   platform (or its fault plan) refuses; the kernel turns that into `ENOMEM`.
//!   Each request names its *site*, a static string such as `"tmpfs.data"`, so
//!   a fault plan can aim at one part of the kernel.
//! * **I/O completes through a callback.** [`Hypercalls::bio_submit`] returns at
//!   once; the platform calls the completion later, on a thread of its own (on
//!   the deterministic platform: a coroutine scheduled at a virtual time), and
//!   hands the buffer back whatever the result (split-phase, as in Tock).
//! * **Optional calls fall back to "not supported".** Every call with a default
//!   body is optional; the default answers [`HyperError::NotSupported`] or does
//!   nothing, never panics.
//! * **Time is the platform's.** Kernels read time only through the clock
//!   calls. The deterministic platform answers from a virtual clock.
//!
//! # Versioning
//!
//! [`VERSION`] is bumped on every incompatible change. A kernel checks
//! [`Hypercalls::version`] at boot (the handshake) and refuses a platform with
//! another major version. New optional calls are added as default methods,
//! which is not an incompatible change.
#![no_std]
#![deny(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;
use core::alloc::Layout;
use core::fmt;
use core::ptr::NonNull;

/// The version of this interface. A kernel accepts a platform only if the
/// platform reports exactly this version.
pub const VERSION: u32 = 1;

/// Why a hypercall could not do what it was asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum HyperError {
    /// The platform does not implement this optional call.
    NotSupported,
    /// Out of memory (or an injected allocation failure).
    NoMemory,
    /// An I/O error from a backing device (or an injected one).
    Io,
    /// No backing device of that name.
    NoDevice,
    /// An argument the platform cannot accept (offset out of range, ...).
    Invalid,
    /// A resource is temporarily exhausted (thread creation refused, ...).
    Again,
}

impl fmt::Display for HyperError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            HyperError::NotSupported => "not supported",
            HyperError::NoMemory => "out of memory",
            HyperError::Io => "I/O error",
            HyperError::NoDevice => "no such device",
            HyperError::Invalid => "invalid argument",
            HyperError::Again => "resource temporarily unavailable",
        };
        f.write_str(text)
    }
}

macro_rules! handle {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(pub u64);
    };
}

handle!(
    /// A thread of the platform: a kernel thread, a client thread that entered
    /// the kernel, or a completion context. Unique within one platform instance.
    ThreadId
);
handle!(
    /// A mutex created by [`Hypercalls::mutex_create`].
    MutexId
);
handle!(
    /// A reader-writer lock created by [`Hypercalls::rw_create`].
    RwLockId
);
handle!(
    /// A condition variable created by [`Hypercalls::cv_create`].
    CondvarId
);
handle!(
    /// A backing block device opened by [`Hypercalls::bio_open`].
    BlockDevId
);

/// How a reader-writer lock is taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RwMode {
    /// Shared: any number of readers at once.
    Read,
    /// Exclusive: one writer, no readers.
    Write,
}

/// The body of a new thread. A thread exits by returning from it.
pub type ThreadEntry = Box<dyn FnOnce() + Send + 'static>;

/// What a block request does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BioOp {
    /// Fill `buf` (its whole length) from the device at `offset`.
    Read,
    /// Write all of `buf` to the device at `offset`.
    Write,
    /// Make every completed write durable. `buf` is empty and `offset` 0.
    Flush,
}

/// One asynchronous block request.
#[derive(Debug)]
pub struct BioRequest {
    /// What to do.
    pub op: BioOp,
    /// Byte offset on the device; a multiple of the device's block size.
    pub offset: u64,
    /// For a read, a buffer whose length is the number of bytes to read; for a
    /// write, the bytes to write. Its length is a multiple of the block size.
    pub buf: Vec<u8>,
}

/// The completion of a [`BioRequest`], handed to its callback.
#[derive(Debug)]
pub struct BioCompletion {
    /// The operation that completed.
    pub op: BioOp,
    /// The offset it was submitted with.
    pub offset: u64,
    /// The request's buffer, handed back in every case; after a successful
    /// read it holds the data.
    pub buf: Vec<u8>,
    /// The number of bytes transferred, or why the request failed.
    pub result: Result<usize, HyperError>,
}

/// Called once, on a platform thread, when a block request completes. It may
/// take kernel locks and block (it runs in a thread context of its own).
pub type BioCallback = Box<dyn FnOnce(BioCompletion) + Send + 'static>;

/// What [`Hypercalls::bio_open`] tells about a backing device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockDevInfo {
    /// The handle for later calls.
    pub id: BlockDevId,
    /// The device's size in bytes (a multiple of `block_size`).
    pub size_bytes: u64,
    /// The device's block size in bytes (a power of two, at least 512).
    pub block_size: u32,
    /// Writes are refused.
    pub read_only: bool,
}

/// A short, named point in a kernel's life, recorded by platforms that keep a
/// trace (the deterministic platform shows them in its Perfetto export).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KernelEvent<'a> {
    /// A system call starts on the current thread.
    SyscallEnter(&'a str),
    /// The system call started last on the current thread ends with `result`
    /// (a value, or a negated errno).
    SyscallExit(&'a str, i64),
    /// Any other named moment (boot, halt, mount, ...), with a detail string.
    Mark(&'a str, &'a str),
}

/// Everything a rumpkit kernel needs from the machine.
///
/// One instance serves one or more kernels. Implementations must be usable
/// from every thread they create (hence `Send + Sync`); the deterministic
/// platform runs all of them on one OS thread and checks that it does.
pub trait Hypercalls: Send + Sync {
    // ----- handshake -------------------------------------------------------

    /// The interface version this platform implements; must equal
    /// [`VERSION`] for a kernel to boot on it.
    fn version(&self) -> u32 {
        VERSION
    }

    // ----- memory ----------------------------------------------------------

    /// Allocates `layout.size()` bytes aligned to `layout.align()`, on behalf
    /// of `site` (a static name of the allocating part of the kernel). Returns
    /// `None` if the platform refuses; the caller must cope.
    /// `layout.size()` is never zero.
    fn mem_alloc(&self, layout: Layout, site: &'static str) -> Option<NonNull<u8>>;

    /// Frees memory from [`Hypercalls::mem_alloc`].
    ///
    /// # Safety
    /// `ptr` must come from `mem_alloc` on this same platform instance with
    /// this same `layout`, and must not be used afterwards.
    #[allow(unsafe_code)]
    unsafe fn mem_free(&self, ptr: NonNull<u8>, layout: Layout);

    // ----- clocks ----------------------------------------------------------

    /// Nanoseconds on a clock that never goes backwards, from an arbitrary
    /// start (the platform's boot).
    fn clock_monotonic_ns(&self) -> u64;

    /// Nanoseconds since the Unix epoch on the wall clock, which may jump.
    fn clock_wall_ns(&self) -> u64;

    /// Blocks the calling thread until the monotonic clock reaches
    /// `deadline_ns`. Returns at once if the deadline has passed.
    fn sleep_until(&self, deadline_ns: u64);

    // ----- random ----------------------------------------------------------

    /// Fills `buf` with random bytes (seeded on the deterministic platform).
    fn random_fill(&self, buf: &mut [u8]);

    // ----- threads ---------------------------------------------------------

    /// Starts a new thread named `name` that runs `entry`. The thread ends when
    /// `entry` returns. Fails with [`HyperError::Again`] when the platform
    /// refuses (or a fault plan says so).
    fn thread_create(&self, name: &str, entry: ThreadEntry) -> Result<ThreadId, HyperError>;

    /// Blocks until thread `thread` has ended. Each thread is joined at most
    /// once; joining yourself is a programming error.
    fn thread_join(&self, thread: ThreadId);

    /// The calling thread.
    fn thread_current(&self) -> ThreadId;

    /// Lets other runnable threads run before the caller goes on.
    fn thread_yield(&self);

    // ----- synchronisation -------------------------------------------------

    /// Creates an unlocked mutex; `name` shows in traces and deadlock reports.
    fn mutex_create(&self, name: &'static str) -> MutexId;
    /// Destroys an unlocked mutex nobody waits on.
    fn mutex_destroy(&self, mutex: MutexId);
    /// Takes the mutex, blocking while another thread holds it. Not recursive.
    fn mutex_enter(&self, mutex: MutexId);
    /// Takes the mutex if it is free; never blocks.
    fn mutex_try_enter(&self, mutex: MutexId) -> bool;
    /// Releases a mutex the caller holds.
    fn mutex_exit(&self, mutex: MutexId);

    /// Creates an unlocked reader-writer lock.
    fn rw_create(&self, name: &'static str) -> RwLockId;
    /// Destroys an unlocked reader-writer lock nobody waits on.
    fn rw_destroy(&self, lock: RwLockId);
    /// Takes the lock in `mode`, blocking as needed.
    fn rw_enter(&self, lock: RwLockId, mode: RwMode);
    /// Takes the lock in `mode` if that is possible without blocking.
    fn rw_try_enter(&self, lock: RwLockId, mode: RwMode) -> bool;
    /// Releases the lock (in whichever mode the caller holds it).
    fn rw_exit(&self, lock: RwLockId);

    /// Creates a condition variable.
    fn cv_create(&self, name: &'static str) -> CondvarId;
    /// Destroys a condition variable nobody waits on.
    fn cv_destroy(&self, cv: CondvarId);
    /// Atomically releases `mutex` (held by the caller) and waits for a
    /// signal; holds `mutex` again on return. May wake spuriously.
    fn cv_wait(&self, cv: CondvarId, mutex: MutexId);
    /// Like [`Hypercalls::cv_wait`], but gives up when the monotonic clock
    /// reaches `deadline_ns`. Returns `false` on time-out, `true` otherwise.
    fn cv_wait_until(&self, cv: CondvarId, mutex: MutexId, deadline_ns: u64) -> bool;
    /// Wakes one waiter, if any.
    fn cv_signal(&self, cv: CondvarId);
    /// Wakes every waiter.
    fn cv_broadcast(&self, cv: CondvarId);

    // ----- block I/O (optional) -------------------------------------------

    /// Opens the backing device called `name` (for example `"md0"`).
    fn bio_open(&self, name: &str) -> Result<BlockDevInfo, HyperError> {
        let _ = name;
        Err(HyperError::NotSupported)
    }

    /// Submits an asynchronous request. `done` is called exactly once, later,
    /// on another thread; never from inside this call.
    fn bio_submit(&self, dev: BlockDevId, request: BioRequest, done: BioCallback) {
        let _ = dev;
        // Without block I/O there is no thread to complete on; completing
        // inline is the only choice and is allowed for this fallback.
        done(BioCompletion {
            op: request.op,
            offset: request.offset,
            buf: request.buf,
            result: Err(HyperError::NotSupported),
        });
    }

    /// Closes a device once no request on it is outstanding.
    fn bio_close(&self, dev: BlockDevId) {
        let _ = dev;
    }

    // ----- console and parameters -----------------------------------------

    /// Writes kernel console output (captured for golden checks).
    fn console_write(&self, bytes: &[u8]);

    /// A named parameter (`"ncpu"`, `"hostname"`, `"memsize"`, ...), or `None`
    /// when the platform has no value for it.
    fn param(&self, name: &str) -> Option<String> {
        let _ = name;
        None
    }

    // ----- tracing (optional) ---------------------------------------------

    /// Records a kernel event in the platform's trace, if it keeps one.
    fn kernel_event(&self, event: KernelEvent<'_>) {
        let _ = event;
    }

    // ----- termination ----------------------------------------------------

    /// The kernel found itself in a state it cannot continue from. The
    /// platform reports `message` and stops the kernel (the deterministic
    /// platform ends the run as failed, with its seed); it never returns.
    fn panic(&self, message: &str) -> !;

    /// The kernel asks to end with `status`; never returns.
    fn exit(&self, status: i32) -> !;
}
