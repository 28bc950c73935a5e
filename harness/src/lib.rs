//! The rumpkit harness: it boots a fresh rumpkit kernel for every test case
//! on the deterministic, fault-injecting platform (`rumpkit-fault`), runs
//! scenario scripts (`rumpkit-scenario`) against the kernel's real system
//! calls, and turns the outcome into something a person can act on: a pass,
//! or a failure with the seed, the schedule settings and the one command
//! that replays it. It also shrinks failing scripts, compares scripts with
//! the host operating system, benchmarks the platform and hosts the
//! `rumpkit` command-line tool. It sits above the kernel, the drivers and
//! both platforms; nothing below depends on it.
//!
//! * [`table`] — the system calls a script may make ([`table::KernelTable`]
//!   implements the scenario checker's `CallTable`).
//! * [`exec`] — loads a script and runs it for one seed ([`exec::run_case`]).
//! * [`suite`] — finds scripts, runs seed ranges, writes repro files.
//! * [`shrink`] — reduces a failing script to the lines that matter.
//! * [`host`] — the host-OS backend for `--diff-host`.

pub mod bench;
pub mod exec;
pub mod fuzzing;
pub mod host;
pub mod shrink;
pub mod suite;
pub mod table;
