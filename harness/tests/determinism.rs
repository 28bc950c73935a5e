//! Same seed, same run: a kernel workload (vfs + dev, tmpfs + md, three
//! client threads doing file operations and block I/O through devfs) under
//! the random scheduler with preemption at every lock operation and a fault
//! plan, over 1,000 seeds, run twice: every seed gives the same trace hash
//! and the same answers both times. The 1,000 hashes fold into one digest
//! that is pinned below, so debug and release builds (and any host) must
//! agree on every run too.

mod common;

use rumpkit_fault::{FaultPlan, Outcome, Preemption, RunReport, Sim, SimConfig, Strategy};

const SEEDS: u64 = 1_000;

/// Allocation failures in tmpfs now and then, slow and reordered block I/O,
/// and a failing write now and then.
const PLAN: &str =
    "alloc site=tmpfs p=0.005; bio.latency min=1us max=200us; bio.reorder p=0.3; bio.error op=write p=0.05";

/// The digest (FNV-1a) of the 1,000 runs' seeds and trace hashes, the same in
/// debug and release builds on every host.
const PINNED_DIGEST: u64 = 0x5b08_bed0_a3ef_87df;

fn run(seed: u64) -> (RunReport, Vec<common::Entry>) {
    let mut sim = Sim::new(SimConfig {
        seed,
        strategy: Strategy::Random,
        preemption: Preemption::Locks,
        faults: FaultPlan::parse(PLAN).expect("the plan parses"),
        ..common::config()
    });
    let log = common::add_workload(&sim, 2, 1);
    let report = sim.run();
    (report, log.entries())
}

/// FNV-1a over little-endian words: stable everywhere.
fn fold(digest: u64, word: u64) -> u64 {
    word.to_le_bytes().iter().fold(digest, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[test]
fn a_thousand_seeds_twice_give_the_same_hashes() {
    let mut digest = 0xcbf2_9ce4_8422_2325u64;
    let mut faulted = 0;
    let mut errors = 0;
    for seed in 0..SEEDS {
        let (first, first_log) = run(seed);
        let (second, second_log) = run(seed);
        assert_eq!(first.outcome, Outcome::Ok, "seed {seed}: {}", first.outcome);
        assert_eq!(first.outcome, second.outcome, "seed {seed}");
        assert_eq!(
            first.trace_hash, second.trace_hash,
            "seed {seed}: trace hashes differ"
        );
        assert_eq!(first.decisions, second.decisions, "seed {seed}");
        assert_eq!(first_log, second_log, "seed {seed}: answers differ");
        faulted += u64::from(!first.faults_injected.is_empty());
        errors += first_log
            .iter()
            .filter(|(_, result)| result.is_err())
            .count();
        digest = fold(digest, seed);
        digest = fold(digest, first.trace_hash);
    }
    println!("{SEEDS} seeds: {faulted} with injected faults, {errors} failed calls; digest {digest:#018x}");
    assert!(faulted > 0, "the fault plan injected nothing");
    assert_eq!(
        digest, PINNED_DIGEST,
        "the digest of {SEEDS} trace hashes changed to {digest:#018x}. If debug and release \
         builds disagree, that is a determinism bug. If the kernel, a driver, the platform or \
         this workload changed on purpose, update PINNED_DIGEST in harness/tests/determinism.rs \
         to the new value after checking that `cargo test -p rumpkit --test determinism` and \
         `cargo test --release -p rumpkit --test determinism` both print it."
    );
}
