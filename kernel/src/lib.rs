//! The rumpkit anykernel: a small kernel whose every contact with the machine
//! goes through the hypercall interface (`rumpkit-hypercall`), so that the same
//! code runs on a bare-metal target, on the host, and on the deterministic,
//! fault-injecting platform that tests it.
//!
//! # Layers
//!
//! * **base** — fallible kernel memory ([`kmem`]: every allocation can fail
//!   and becomes `ENOMEM`), locks over the hypercall primitives ([`sync`]),
//!   kernel threads and callouts, and boot/halt with the component registry
//!   ([`kernel`]).
//! * **dev faction** ([`dev`]) — device registry, block-device switch and
//!   buffered block I/O.
//! * **vfs faction** ([`vfs`]) — vnodes, path lookup, mounts, descriptors.
//! * **system calls** — a typed API and a numbered dispatcher over a simulated
//!   user address space.
//!
//! Drivers (tmpfs, md, ...) are separate crates that depend on this one and
//! are handed to [`Kernel::boot`] as [`Component`]s; this crate never names a
//! driver, and it depends on nothing but the hypercall interface and
//! `allocator-api2`. It is `#![no_std]` + `alloc` and builds for
//! `x86_64-unknown-none`.
//!
//! # Rules kernel code follows
//!
//! * Never allocate infallibly: use [`kmem::KVec`], [`kmem::KBox`] and the
//!   `try_` forms. Never use the global allocator for kernel state.
//! * Never spin: every wait is a hypercall (through [`sync`]).
//! * Never read time or randomness except through the platform.
//! * Return [`Errno`] for every operating error; assert only programmer errors.
#![no_std]
#![warn(missing_docs)]

extern crate alloc;

pub mod callout;
pub mod dev;
pub mod errno;
pub mod kernel;
pub mod kmem;
pub mod sync;
pub mod syscall;
pub mod thread;
pub mod vfs;

pub use callout::CalloutId;
pub use errno::{Errno, KResult};
pub use kernel::{BootConfig, BootError, Component, Faction, HaltError, HaltReport, Kernel};
pub use rumpkit_hypercall as hypercall;
pub use syscall::{Fd, Pid, Stat, Sys};
pub use thread::KThread;
