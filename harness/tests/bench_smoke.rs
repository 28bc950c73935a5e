//! `rumpkit bench` still runs: every workload it times completes (a quick
//! run with few samples) and every figure is a positive number. No timing
//! is asserted here; the targets are the benchmark's business.

use rumpkit::bench::{measure, BenchArgs};

#[test]
fn every_benchmark_workload_runs() {
    let report = measure(&BenchArgs {
        json: true,
        samples: Some(10),
        quick: true,
    })
    .expect("the benchmark workloads succeed");
    for (name, value) in [
        ("boot_halt_us_p50", report.boot_halt_us_p50),
        ("boot_halt_us_p90", report.boot_halt_us_p90),
        ("case_us_p50", report.case_us_p50),
        ("switch_ns_p50", report.switch_ns_p50),
        ("switch_cv_ns_p50", report.switch_cv_ns_p50),
        ("schedules_per_s", report.schedules_per_s),
        ("shuttle_schedules_per_s", report.shuttle_schedules_per_s),
    ] {
        assert!(value.is_finite() && value > 0.0, "{name} = {value}");
    }
    let json = serde_json::to_value(&report).unwrap();
    for key in [
        "boot_halt_us_p50",
        "case_us_p50",
        "switch_ns_p50",
        "schedules_per_s",
        "shuttle_schedules_per_s",
    ] {
        assert!(json[key].is_number(), "the JSON object lacks {key}: {json}");
    }
}
