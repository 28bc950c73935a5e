//! The allocation-fault sweep: the kernel workload (boot vfs + dev with
//! tmpfs and md, mount tmpfs and devfs, files created, written, truncated,
//! renamed, linked and removed, symlinks, directories made, listed and
//! removed, block I/O on `/dev/md0` through a buffer cache small enough to
//! evict) runs once per allocation, failing the 1st allocation, then the
//! 2nd, and so on (`alloc nth=N`), until a run meets no fault. Every run
//! ends without a panic and with kernel memory all freed (halt's leak report
//! and the platform's are empty), and every call answers a value or an
//! errno. Under the round-robin schedule, where the workload without faults
//! makes no call fail, the first call that fails answers `ENOMEM` (later
//! ones may fail because of it: a directory that was never made is
//! `ENOENT`), and a boot that meets the fault fails cleanly with `ENOMEM`.
//! The sweep is repeated under random schedules with lock preemption, where
//! the N-th allocation falls elsewhere and client threads interleave.

mod common;

use rumpkit_fault::{FaultPlan, Outcome, Preemption, RunReport, Sim, SimConfig, Strategy};
use rumpkit_kernel::Errno;

/// A bound on the sweep, far above the workload's allocation count, so that
/// a workload that never stops allocating fails instead of running forever.
const MAX_ALLOCATIONS: u64 = 100_000;

/// Random-schedule seeds to sweep under.
const RANDOM_SEEDS: u64 = 8;

fn run(seed: u64, strategy: &Strategy, plan: &str) -> (RunReport, common::Log) {
    let mut sim = Sim::new(SimConfig {
        seed,
        strategy: strategy.clone(),
        preemption: Preemption::Locks,
        faults: FaultPlan::parse(plan).expect("the plan parses"),
        ..common::config()
    });
    let log = common::add_workload(&sim, 2, 1);
    (sim.run(), log)
}

#[derive(Debug, Default)]
struct Sweep {
    /// Allocation points failed (runs that injected a fault).
    points: u64,
    /// Runs where boot failed with ENOMEM.
    boots_failed: u64,
    /// Runs where a system call answered ENOMEM.
    enomem: u64,
    /// Runs where no call failed: the kernel absorbed the failure.
    absorbed: u64,
}

/// Sweeps `alloc nth=1, 2, ...` for one seed and strategy. With
/// `strict`, the workload must make no call fail without faults, and the
/// first failing call under a fault must answer `ENOMEM`.
fn sweep(seed: u64, strategy: &Strategy, strict: bool) -> Sweep {
    let name = format!("{} seed {seed}", strategy.name());
    let (clean, clean_log) = run(seed, strategy, "");
    assert_eq!(clean.outcome, Outcome::Ok, "{name}: {}", clean.outcome);
    if strict {
        assert_eq!(
            clean_log.first_error(),
            None,
            "{name}: a call failed without faults"
        );
    }
    let mut result = Sweep::default();
    for nth in 1..=MAX_ALLOCATIONS {
        let (report, log) = run(seed, strategy, &format!("alloc nth={nth}"));
        assert_eq!(
            report.outcome,
            Outcome::Ok,
            "{name}, alloc nth={nth}: {}\nfaults: {:?}\ncalls: {:?}",
            report.outcome,
            report.faults_injected,
            log.entries()
        );
        assert!(
            report.leaks.is_empty(),
            "{name}, alloc nth={nth}: {:?}",
            report.leaks
        );
        let Some(fault) = report.faults_injected.first() else {
            return result;
        };
        result.points = nth;
        let errors: Vec<common::Entry> = log
            .entries()
            .into_iter()
            .filter(|(_, answer)| answer.is_err())
            .collect();
        if errors
            .iter()
            .any(|(what, answer)| what == "boot" && *answer == Err(Errno::ENOMEM))
        {
            result.boots_failed += 1;
        } else if errors
            .iter()
            .any(|(_, answer)| *answer == Err(Errno::ENOMEM))
        {
            result.enomem += 1;
        } else if errors.is_empty() {
            result.absorbed += 1;
        }
        if strict {
            if let Some((what, answer)) = errors.first() {
                assert_eq!(
                    *answer,
                    Err(Errno::ENOMEM),
                    "{name}, alloc nth={nth} ({}): the first failed call, {what}, answered {answer:?}",
                    fault.detail
                );
            }
        }
    }
    panic!("{name}: the sweep did not end: the workload never stopped allocating");
}

#[test]
fn failing_each_allocation_in_turn_gives_enomem_and_no_leak() {
    let result = sweep(0, &Strategy::RoundRobin, true);
    assert!(result.points > 0, "the workload allocated nothing");
    println!(
        "round-robin: swept {} allocation points: {result:?}",
        result.points
    );
}

#[test]
fn the_sweep_under_random_schedules() {
    let mut total = 0;
    for seed in 0..RANDOM_SEEDS {
        let result = sweep(seed, &Strategy::Random, false);
        assert!(
            result.points > 0,
            "seed {seed}: the workload allocated nothing"
        );
        total += result.points;
        println!(
            "random seed {seed}: swept {} allocation points: {result:?}",
            result.points
        );
    }
    println!("random: {total} runs with a failed allocation over {RANDOM_SEEDS} seeds");
}
