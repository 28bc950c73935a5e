//! The deterministic, fault-injecting rumpkit platform: an implementation of
//! the hypercall interface ([`rumpkit_hypercall::Hypercalls`]) on which a
//! kernel, its drivers and a test's client threads run as coroutines on one
//! OS thread, under a seeded scheduler, on a virtual clock, while a fault plan
//! fails allocations, thread creation, block I/O and clocks on purpose. The
//! same seed and configuration give the same run, byte for byte, and the same
//! trace hash. It depends on the hypercall interface (and `corosensei` for
//! coroutines, `serde_json` for the Perfetto export) and on nothing of the
//! kernel; the harness uses it.
//!
//! # Using it
//!
//! ```
//! use std::collections::BTreeMap;
//! use rumpkit_fault::{BlockDeviceSpec, FaultPlan, Preemption, Sim, SimConfig, Strategy};
//! use rumpkit_hypercall::Hypercalls;
//!
//! let mut sim = Sim::new(SimConfig {
//!     seed: 42,
//!     strategy: Strategy::pct(3),
//!     preemption: Preemption::Locks,
//!     faults: FaultPlan::parse("alloc site=tmpfs nth=2; bio.latency min=10us max=1ms").unwrap(),
//!     block_devices: vec![BlockDeviceSpec::new("md0", 4 << 20, 512)],
//!     params: BTreeMap::from([("ncpu".to_string(), "2".to_string())]),
//!     record_trace: true,
//!     ..Default::default()
//! });
//! let hc = sim.platform(); // Arc<SimPlatform>, coerces to Arc<dyn Hypercalls>
//! sim.spawn("client0", move || {
//!     let lock = hc.mutex_create("demo");
//!     hc.mutex_enter(lock);
//!     hc.console_write(b"hello\n");
//!     hc.mutex_exit(lock);
//!     hc.mutex_destroy(lock);
//! });
//! let report = sim.run();
//! assert!(report.is_success(), "{}", report.outcome);
//! assert_eq!(report.console, b"hello\n");
//! let _replay = report.replay_strategy(); // Strategy::Replay(decisions)
//! let _json = report.trace.unwrap().to_chrome_json(); // open in Perfetto
//! ```
//!
//! [`Sim::new`] takes a [`SimConfig`]; [`Sim::platform`] hands out the
//! [`SimPlatform`] to boot kernels on; [`Sim::spawn`] adds client threads;
//! [`Sim::run`] runs to the end and returns a [`RunReport`]: the
//! [`Outcome`], the trace hash, the schedule ([`RunReport::decisions`], which
//! [`Strategy::Replay`] replays), every injected fault, the console output,
//! the leak report and, if asked, the [`Trace`]. After a run,
//! [`Sim::durable_image`] gives a device's power-cut contents, which
//! [`BlockDeviceSpec::with_image`] mounts again in a fresh simulation.
//!
//! # Threads are coroutines
//!
//! Every thread of a simulation — a test's client thread, a kernel thread
//! from `thread_create`, the context a block-I/O completion runs in — is a
//! stackful `corosensei` coroutine with a 64 KiB stack taken from a pool that
//! each OS thread keeps across simulations, so creating a thread costs tens
//! of nanoseconds. [`Sim::run`] is the scheduler loop: it resumes one
//! coroutine at a time; a coroutine runs until it blocks in a hypercall (or
//! reaches a preemption point the scheduler decides to switch at) and then
//! suspends back to the loop.
//!
//! Hypercalls arrive from deep inside kernel code, where only the platform
//! object is at hand. The "current context" — which simulated thread runs,
//! and its coroutine's yielder — is therefore kept in the platform's state
//! and switched by the scheduler loop on every resume; a thread-local marks
//! that simulated code runs (for the panic hook) and a per-OS-thread token
//! checks that the platform is only used on the OS thread that made it. The
//! trait demands `Send + Sync`; [`SimPlatform`] gives both by asserting that
//! token on every call. The scheduler also switches a thread-local current
//! thread on every resume, which [`current_thread`] reads.
//!
//! Thread ids are creation indices: the first thread spawned or created is
//! `ThreadId(0)`, and so on, in every run with the same workload. Code on the
//! owning OS thread outside any simulated thread (a test preparing a kernel
//! before [`Sim::run`]) may make non-blocking hypercalls; `thread_current`
//! answers `ThreadId(u32::MAX - 1)` there, and a call that would block
//! panics.
//!
//! A panic in a simulated thread is caught at the coroutine boundary, ends
//! the run as [`Outcome::Panic`] (thread name, message, location), and the
//! process goes on. The `panic` and `exit` hypercalls unwind the calling
//! coroutine with a private payload and end the run as
//! [`Outcome::KernelPanic`] or [`Outcome::Exit`]. At the end of every run the
//! remaining coroutines — blocked, runnable or never started — are unwound
//! in creation order, so their destructors run and nothing leaks. While a
//! thread unwinds, the platform never blocks it and forgives lock misuse
//! (a second panic during unwinding would abort the process).
//!
//! # Scheduling
//!
//! Scheduling points are every blocking hypercall (a contended
//! `mutex_enter` or `rw_enter`, `cv_wait*`, `sleep_until`, `thread_join`)
//! and `thread_yield`; [`Preemption`] adds optional points at every lock
//! operation or at every hypercall. At each point the run's [`Scheduler`]
//! picks one of the runnable threads, which are numbered by creation order
//! (never by address), and the pick is recorded. Strategies, one file each
//! under `sched/`: cooperative round-robin (the baseline), seeded random,
//! PCT with a depth bound, and replay of a recorded decision list, which ends
//! the run as [`Outcome::ReplayDiverged`] rather than run differently.
//!
//! # Virtual time
//!
//! The clock is discrete-event: it never moves while a thread is runnable;
//! when none is, it jumps to the earliest pending deadline (a sleeper, a
//! timed condition-variable wait, a block-I/O completion) and fires every
//! timer due then. `clock_wall_ns` is a fixed epoch plus virtual time plus
//! any injected wall-clock jumps. The simulator never reads the host clock
//! or host randomness: `random_fill` and every random choice draw from
//! seeded streams.
//!
//! # Faults
//!
//! A [`FaultPlan`] is a list of rules with a text form (see
//! `docs/faults.md`): allocation failure (nth, probability, site filter, time
//! window), thread-creation failure, block I/O errors, latency, completion
//! reordering, torn writes, writes lost without a flush, timer jitter and
//! wall-clock jumps. Each rule draws from a random stream of its own, keyed
//! by the seed and the rule's text, so adding or removing one rule leaves the
//! others' decisions alone. Every injected fault goes into the report, the
//! trace and the hash.
//!
//! Block devices are sparse in memory. A completed write goes to the durable
//! image, except under `bio.lost`, where it waits in a volatile cache for a
//! flush; a power cut ([`SimConfig::power_cut_ns`], or simply taking
//! [`Sim::durable_image`]) keeps only the durable image. Completions run in
//! a fresh coroutine at submission time plus latency, in submission order per
//! device unless `bio.reorder` says otherwise.
//!
//! # Detectors
//!
//! Deadlock (every live thread blocked and nothing pending: the wait-for
//! graph with thread, lock and condition-variable names, and the cycle),
//! livelock (a step budget and a virtual-time budget), leaks (kernel memory
//! still allocated when every thread has ended, by site, sorted) and panics.
//!
//! # Determinism rules
//!
//! Same seed, same configuration, same workload: same decisions, same faults,
//! same trace hash, in debug and release, on any host. To keep it so, the
//! simulator orders everything by creation index or virtual time, keys no
//! output by address, uses no randomly seeded hash map, hashes only
//! host-independent values, and computes probabilities with exact integer-
//! derived floats. The trace hash is updated incrementally on every decision
//! and hypercall event whether or not events are recorded.
//!
//! `unsafe` appears only where coroutines meet the state (the yielder and
//! platform pointers), in the allocator calls of `mem_alloc`/`mem_free`, and
//! in the thread-affinity claim of `Send`/`Sync`; each use says why it holds.
#![warn(missing_docs)]

mod blockdev;
mod coroutine;
mod faults;
mod report;
mod rng;
pub mod sched;
mod sim;
mod trace;

pub use blockdev::{BlockDeviceSpec, BlockImage};
pub use coroutine::DEFAULT_STACK_SIZE;
pub use faults::{FaultKind, FaultPlan, FaultPlanError, FaultRule, Pattern, Trigger};
pub use report::{
    FaultRecord, LeakSite, LivelockReason, Outcome, RunReport, WaitEdge, WaitForGraph, WaitTarget,
};
pub use sched::{PointKind, SchedulePoint, Scheduler, Strategy};
pub use sim::{current_thread, Preemption, Sim, SimConfig, SimPlatform};
pub use trace::{EventKind, Trace, TraceEvent, WaitWhat};

pub use rumpkit_hypercall as hypercall;
