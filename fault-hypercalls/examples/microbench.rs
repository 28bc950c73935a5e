//! Rough timings of the simulator's building blocks (run with `--release`):
//! `cargo run --release -p rumpkit-fault --example microbench`.
//!
//! The harness's `rumpkit bench` is the real benchmark; this is a quick
//! check while working on the simulator.

use std::hint::black_box;
use std::sync::Arc;
use std::time::Instant;

use rumpkit_fault::hypercall::Hypercalls;
use rumpkit_fault::{Preemption, Sim, SimConfig, Strategy};

fn median(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(|a, b| a.partial_cmp(b).unwrap());
    samples[samples.len() / 2]
}

fn main() {
    // Create a simulation, spawn one thread, run it to the end.
    let mut samples = Vec::new();
    for _ in 0..20_000 {
        let start = Instant::now();
        let mut sim = Sim::new(SimConfig::default());
        sim.spawn("t", || {
            black_box(1);
        });
        let report = sim.run();
        black_box(&report);
        samples.push(start.elapsed().as_nanos() as f64);
    }
    println!("sim create+spawn+run: {:.0} ns (median)", median(samples));

    // Context switch: two threads ping-ponging through thread_yield.
    for (strategy, name) in [
        (Strategy::RoundRobin, "round-robin"),
        (Strategy::Random, "random"),
    ] {
        let mut samples = Vec::new();
        for _ in 0..20 {
            let rounds = 100_000u64;
            let mut sim = Sim::new(SimConfig {
                strategy: strategy.clone(),
                step_budget: u64::MAX,
                ..Default::default()
            });
            for thread in 0..2 {
                let hc: Arc<dyn Hypercalls> = sim.hypercalls();
                sim.spawn(&format!("pp{thread}"), move || {
                    for _ in 0..rounds {
                        hc.thread_yield();
                    }
                });
            }
            let start = Instant::now();
            let report = sim.run();
            let elapsed = start.elapsed().as_nanos() as f64;
            samples.push(elapsed / report.steps as f64);
        }
        println!(
            "switch via thread_yield ({name}): {:.1} ns (median)",
            median(samples)
        );
    }

    // Schedules per second on a small mutex/condvar workload.
    let start = Instant::now();
    let mut runs = 0u64;
    while start.elapsed().as_millis() < 500 {
        let mut sim = Sim::new(SimConfig {
            seed: runs,
            strategy: Strategy::Random,
            preemption: Preemption::Locks,
            ..Default::default()
        });
        let hc: Arc<dyn Hypercalls> = sim.hypercalls();
        let lock = hc.mutex_create("m");
        let cv = hc.cv_create("cv");
        let counter = Arc::new(std::sync::atomic::AtomicU32::new(0));
        for thread in 0..3 {
            let (hc, counter) = (hc.clone(), counter.clone());
            sim.spawn(&format!("w{thread}"), move || {
                for _ in 0..3 {
                    hc.mutex_enter(lock);
                    counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    hc.cv_broadcast(cv);
                    hc.mutex_exit(lock);
                }
                hc.mutex_enter(lock);
                while counter.load(std::sync::atomic::Ordering::Relaxed) < 9 {
                    hc.cv_wait(cv, lock);
                }
                hc.mutex_exit(lock);
            });
        }
        let report = sim.run();
        assert!(report.is_success(), "{}", report.outcome);
        runs += 1;
    }
    let per_second = runs as f64 / start.elapsed().as_secs_f64();
    println!(
        "schedules per second (3 threads, mutex+condvar, random, lock preemption): {per_second:.0}"
    );
}
