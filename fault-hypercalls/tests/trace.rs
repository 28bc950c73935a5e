//! The trace: recording on and off gives the same hash; the Chrome export is
//! valid JSON with one track per thread and the expected spans.

mod common;

use common::{bio_sync, md0, Hc};
use rumpkit_fault::hypercall::{BioOp, KernelEvent};
use rumpkit_fault::{FaultPlan, Outcome, Preemption, RunReport, Sim, SimConfig, Strategy};
use serde_json::Value;

fn traced_run(record_trace: bool) -> RunReport {
    let mut sim = Sim::new(SimConfig {
        seed: 5,
        strategy: Strategy::Random,
        preemption: Preemption::Locks,
        faults: FaultPlan::parse("alloc nth=1").unwrap(),
        block_devices: md0(),
        record_trace,
        ..Default::default()
    });
    let hc: Hc = sim.hypercalls();
    let lock = hc.mutex_create("shared.lock");
    for name in ["alpha", "beta"] {
        let hc = hc.clone();
        sim.spawn(name, move || {
            hc.kernel_event(KernelEvent::SyscallEnter("write"));
            hc.mutex_enter(lock);
            hc.thread_yield();
            hc.mutex_exit(lock);
            let _ = hc
                .mem_alloc(std::alloc::Layout::new::<u64>(), "never.freed.on.failure")
                .map(|p| {
                    // SAFETY: allocated just above with this layout.
                    unsafe { hc.mem_free(p, std::alloc::Layout::new::<u64>()) }
                });
            let dev = hc.bio_open("md0").unwrap().id;
            bio_sync(&hc, dev, BioOp::Write, 0, vec![1; 512]);
            hc.sleep_until(hc.clock_monotonic_ns() + 1_000);
            hc.kernel_event(KernelEvent::SyscallExit("write", 512));
            hc.kernel_event(KernelEvent::Mark("halt", "clean"));
        });
    }
    sim.run()
}

#[test]
fn recording_does_not_change_the_hash() {
    let with = traced_run(true);
    let without = traced_run(false);
    assert_eq!(with.outcome, Outcome::Ok, "{}", with.outcome);
    assert_eq!(with.trace_hash, without.trace_hash);
    assert_eq!(with.decisions, without.decisions);
    assert!(with.trace.is_some());
    assert!(without.trace.is_none());
}

#[test]
fn chrome_json_has_one_track_per_thread_and_the_spans() {
    let report = traced_run(true);
    let trace = report.trace.expect("recorded");
    assert_eq!(trace.threads.len() as u32, report.threads_created);
    let json: Value = serde_json::from_str(&trace.to_chrome_json()).expect("valid JSON");
    let events = json["traceEvents"].as_array().unwrap();
    let names: Vec<(u64, String)> = events
        .iter()
        .filter(|e| e["ph"] == "M" && e["name"] == "thread_name")
        .map(|e| {
            (
                e["tid"].as_u64().unwrap(),
                e["args"]["name"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    // Track 0 is the simulator; then one per thread, in creation order.
    assert_eq!(names[0], (0, "simulator".to_string()));
    assert_eq!(names[1], (1, "alpha".to_string()));
    assert_eq!(names[2], (2, "beta".to_string()));
    assert_eq!(names.len(), trace.threads.len() + 1);
    let tids: std::collections::BTreeSet<u64> = names.iter().map(|n| n.0).collect();
    assert_eq!(tids.len(), names.len(), "one track per thread");

    let count = |pred: &dyn Fn(&Value) -> bool| events.iter().filter(|e| pred(e)).count();
    assert_eq!(
        count(&|e| e["ph"] == "B" && e["name"] == "write"),
        2,
        "syscall spans"
    );
    assert!(
        count(&|e| e["ph"] == "B" && e["name"] == "sleep") >= 2,
        "sleep spans"
    );
    assert!(count(&|e| e["ph"] == "B" && e["cat"] == "wait") >= 3);
    assert_eq!(
        count(&|e| e["ph"] == "b" && e["cat"] == "bio"),
        2,
        "bio in flight"
    );
    assert_eq!(count(&|e| e["ph"] == "e" && e["cat"] == "bio"), 2);
    assert_eq!(
        count(&|e| e["ph"] == "i" && e["cat"] == "fault"),
        1,
        "the alloc fault"
    );
    assert_eq!(count(&|e| e["ph"] == "i" && e["name"] == "halt"), 2);
    // Spans balance on every track.
    for tid in tids {
        let begins = count(&|e| e["tid"] == tid && e["ph"] == "B");
        let ends = count(&|e| e["tid"] == tid && e["ph"] == "E");
        assert_eq!(begins, ends, "track {tid}");
    }
    // Timestamps never go backwards.
    let stamps: Vec<f64> = events.iter().filter_map(|e| e["ts"].as_f64()).collect();
    assert!(stamps.windows(2).all(|w| w[0] <= w[1]));
}

#[test]
fn deadlocked_trace_still_closes_its_spans() {
    let mut sim = Sim::new(SimConfig {
        record_trace: true,
        ..Default::default()
    });
    let hc: Hc = sim.hypercalls();
    let lock = hc.mutex_create("stuck");
    let (hc1, hc2) = (hc.clone(), hc.clone());
    let waiter = sim.spawn("waiter", move || {
        hc1.thread_yield();
        hc1.mutex_enter(lock);
    });
    sim.spawn("holder", move || {
        hc2.mutex_enter(lock);
        hc2.thread_join(waiter);
    });
    let report = sim.run();
    assert!(
        matches!(report.outcome, Outcome::Deadlock { .. }),
        "{}",
        report.outcome
    );
    let json: Value = serde_json::from_str(&report.trace.unwrap().to_chrome_json()).unwrap();
    let events = json["traceEvents"].as_array().unwrap();
    let begins = events.iter().filter(|e| e["ph"] == "B").count();
    let ends = events.iter().filter(|e| e["ph"] == "E").count();
    assert_eq!(
        begins, 2,
        "a mutex wait and a join wait, both open at the end"
    );
    assert_eq!(begins, ends);
}
