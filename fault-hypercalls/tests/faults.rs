//! Fault plans: text form, and an observable effect for every fault class.

mod common;

use std::alloc::Layout;
use std::sync::{Arc, Mutex};

use common::{bio_sync, md0, Hc};
use rumpkit_fault::hypercall::{BioOp, BioRequest, HyperError};
use rumpkit_fault::{
    BlockDeviceSpec, FaultKind, FaultPlan, FaultRule, Outcome, Pattern, RunReport, Sim, SimConfig,
};

fn sim_with(plan: &str) -> Sim {
    Sim::new(SimConfig {
        seed: 9,
        faults: FaultPlan::parse(plan).unwrap(),
        block_devices: md0(),
        ..Default::default()
    })
}

#[test]
fn plan_text_round_trips() {
    let text = "alloc site=tmpfs.* nth=3 after=10ms
        # comments and blank lines are fine

        thread name=worker? p=0.25 limit=2; bio.error op=write dev=md0 p=0.1
        bio.latency min=50us max=2ms; bio.reorder p=0.5 until=1s
        bio.torn dev=md0 nth=1; bio.lost
        clock.jitter max=1500ns p=1; clock.jump at=5s by=-2s";
    let plan = FaultPlan::parse(text).unwrap();
    assert_eq!(plan.len(), 9);
    let canonical = plan.to_string();
    assert_eq!(
        canonical,
        "alloc site=tmpfs.* nth=3 after=10ms; thread name=worker? p=0.25 limit=2; \
         bio.error op=write dev=md0 p=0.1; bio.latency min=50us max=2ms; \
         bio.reorder p=0.5 until=1s; bio.torn dev=md0 nth=1; bio.lost; \
         clock.jitter max=1500ns p=1; clock.jump at=5s by=-2s"
    );
    assert_eq!(FaultPlan::parse(&canonical).unwrap(), plan);
    // Every rule can be dropped on its own, and the rest still round-trips.
    for index in 0..plan.len() {
        let smaller = plan.without(index);
        assert_eq!(smaller.len(), 8);
        assert_eq!(FaultPlan::parse(&smaller.to_string()).unwrap(), smaller);
    }
    // Built in code, printed as text.
    let built = FaultPlan::new().with(
        FaultRule::new(FaultKind::Alloc {
            site: Some(Pattern("vfs".into())),
        })
        .nth(2),
    );
    assert_eq!(built.to_string(), "alloc site=vfs nth=2");
    assert_eq!(FaultPlan::parse("").unwrap(), FaultPlan::new());
    assert_eq!(FaultPlan::new().to_string(), "");
}

#[test]
fn parse_errors_point_at_the_problem() {
    let cases: &[(&str, usize, &str)] = &[
        ("alloc nth=3; bogus p=1", 13, "unknown fault `bogus`"),
        ("alloc nth=0", 10, "counts from 1"),
        ("alloc p=1.5", 8, "between 0 and 1"),
        ("alloc p=often", 8, "not a probability"),
        ("alloc after=10", 14, "needs a unit"),
        ("alloc after=10parsecs", 14, "unknown unit"),
        ("alloc nth=1 nth=2", 12, "given twice"),
        ("alloc dev=md0", 6, "does not take `dev`"),
        ("bio.error op=trim", 13, "unknown op"),
        ("bio.latency min=5ms", 0, "needs `max=`"),
        ("bio.latency min=5ms max=1ms", 0, "min above max"),
        ("clock.jump at=1s", 0, "needs `at=` and `by=`"),
        ("clock.jump at=1s by=1s p=0.5", 23, "does not take `p`"),
        ("alloc\nthread oops", 13, "expected key=value"),
        ("alloc site=", 11, "needs a value"),
    ];
    for (text, offset, message) in cases {
        let error = FaultPlan::parse(text).unwrap_err();
        assert_eq!(error.offset, *offset, "{text:?}: {error}");
        assert!(error.message.contains(message), "{text:?}: {error}");
        assert!(error
            .to_string()
            .starts_with(&format!("fault plan, byte {offset}:")));
    }
}

/// Allocates `count` blocks at `site` and reports which succeeded.
fn allocations(plan: &str, sites: &'static [&'static str]) -> (Vec<bool>, RunReport) {
    let mut sim = sim_with(plan);
    let hc: Hc = sim.hypercalls();
    let results = Arc::new(Mutex::new(Vec::new()));
    let results2 = results.clone();
    sim.spawn("allocator", move || {
        let layout = Layout::from_size_align(32, 8).unwrap();
        for (index, site) in sites.iter().enumerate() {
            if index == sites.len() / 2 {
                hc.sleep_until(1_000_000);
            }
            let pointer = hc.mem_alloc(layout, site);
            results2.lock().unwrap().push(pointer.is_some());
            if let Some(pointer) = pointer {
                // SAFETY: allocated just above with this layout.
                unsafe { hc.mem_free(pointer, layout) };
            }
        }
    });
    let report = sim.run();
    let results = results.lock().unwrap().clone();
    (results, report)
}

const SITES: &[&str] = &[
    "tmpfs.node",
    "vfs.vnode",
    "tmpfs.data",
    "vfs.vnode",
    "tmpfs.data",
    "tmpfs.node",
];

#[test]
fn allocation_faults_by_nth_site_time_and_probability() {
    let (ok, report) = allocations("alloc nth=2", SITES);
    assert_eq!(ok, vec![true, false, true, true, true, true]);
    assert_eq!(report.faults_injected.len(), 1);
    assert_eq!(report.faults_injected[0].class, "alloc");
    assert!(report.faults_injected[0].detail.contains("vfs.vnode"));
    assert_eq!(report.outcome, Outcome::Ok);

    // Prefix filter, glob filter.
    let (ok, _) = allocations("alloc site=tmpfs", SITES);
    assert_eq!(ok, vec![false, true, false, true, false, false]);
    let (ok, _) = allocations("alloc site=*.data nth=2", SITES);
    assert_eq!(ok, vec![true, true, true, true, false, true]);
    // Time window: only after the sleep at 1 ms.
    let (ok, _) = allocations("alloc after=1ms", SITES);
    assert_eq!(ok, vec![true, true, true, false, false, false]);
    let (ok, _) = allocations("alloc until=1ms limit=2", SITES);
    assert_eq!(ok, vec![false, false, true, true, true, true]);
    // Probability: reproducible, and neither all nor nothing.
    let many: &'static [&'static str] = Box::leak(vec!["x"; 64].into_boxed_slice());
    let (first, _) = allocations("alloc p=0.5", many);
    let (second, _) = allocations("alloc p=0.5", many);
    assert_eq!(first, second);
    let failures = first.iter().filter(|ok| !**ok).count();
    assert!((16..48).contains(&failures), "{failures} of 64 failed");
}

#[test]
fn each_rule_has_its_own_random_stream() {
    let many: &'static [&'static str] = Box::leak(
        (0..64)
            .map(|i| if i % 2 == 0 { "a.x" } else { "b.x" })
            .collect::<Vec<_>>()
            .into_boxed_slice(),
    );
    let (alone, _) = allocations("alloc site=a p=0.5", many);
    // Another rule, before it and on other sites, draws from its own stream:
    // the decisions of the first rule do not move.
    let (together, _) = allocations("thread p=0.5; alloc site=b p=0.3; alloc site=a p=0.5", many);
    let evens = |v: &[bool]| v.iter().step_by(2).copied().collect::<Vec<bool>>();
    assert_eq!(evens(&alone), evens(&together));
    assert!(together.iter().skip(1).step_by(2).any(|ok| !ok));
}

#[test]
fn allocation_fault_sweep_ends_in_errors_never_panics_or_leaks() {
    // A workload that copes with every failed allocation: it releases what
    // it holds and reports ENOMEM to its caller (here: the console).
    fn workload(hc: &Hc) -> Result<(), HyperError> {
        let layout = Layout::from_size_align(48, 8).unwrap();
        let mut held = Vec::new();
        let mut result = Ok(());
        for site in [
            "vfs.vnode",
            "tmpfs.node",
            "tmpfs.data",
            "tmpfs.data",
            "vfs.name",
        ] {
            match hc.mem_alloc(layout, site) {
                Some(pointer) => held.push(pointer),
                None => {
                    result = Err(HyperError::NoMemory);
                    break;
                }
            }
        }
        for pointer in held {
            // SAFETY: allocated above with this layout, freed once.
            unsafe { hc.mem_free(pointer, layout) };
        }
        result
    }
    let mut nth = 1;
    loop {
        let mut sim = sim_with(&format!("alloc nth={nth}"));
        let hc: Hc = sim.hypercalls();
        sim.spawn("client", move || {
            let text = match workload(&hc) {
                Ok(()) => "ok".to_string(),
                Err(error) => format!("error: {error}"),
            };
            hc.console_write(text.as_bytes());
        });
        let report = sim.run();
        assert_eq!(report.outcome, Outcome::Ok, "nth={nth}");
        assert!(report.leaks.is_empty(), "nth={nth}");
        if report.faults_injected.is_empty() {
            assert_eq!(report.console_text(), "ok");
            break;
        }
        assert_eq!(report.console_text(), "error: out of memory", "nth={nth}");
        nth += 1;
    }
    assert_eq!(nth, 6, "five allocations, five failing runs, one clean run");
}

#[test]
fn thread_creation_faults() {
    let mut sim = sim_with("thread name=flusher nth=2");
    let hc: Hc = sim.hypercalls();
    let results = Arc::new(Mutex::new(Vec::new()));
    let results2 = results.clone();
    sim.spawn("client", move || {
        for name in ["flusher", "other", "flusher", "flusher"] {
            let result = hc.thread_create(name, Box::new(|| {}));
            results2.lock().unwrap().push(result.map(|_| ()));
        }
    });
    let report = sim.run();
    assert_eq!(report.outcome, Outcome::Ok);
    assert_eq!(
        *results.lock().unwrap(),
        vec![Ok(()), Ok(()), Err(HyperError::Again), Ok(())]
    );
    assert_eq!(report.faults_injected[0].class, "thread");
}

#[test]
fn bio_errors_by_operation() {
    let mut sim = sim_with("bio.error op=write dev=md0");
    let hc: Hc = sim.hypercalls();
    let results = Arc::new(Mutex::new(Vec::new()));
    let results2 = results.clone();
    sim.spawn("client", move || {
        let dev = hc.bio_open("md0").unwrap().id;
        let write = bio_sync(&hc, dev, BioOp::Write, 0, vec![7; 512]);
        let read = bio_sync(&hc, dev, BioOp::Read, 0, vec![1; 512]);
        let flush = bio_sync(&hc, dev, BioOp::Flush, 0, Vec::new());
        results2.lock().unwrap().extend([
            write.result,
            read.result,
            flush.result,
            Ok(read.buf[0] as usize),
        ]);
        // A request out of range is refused, asynchronously.
        let bad = bio_sync(&hc, dev, BioOp::Read, 4 << 20, vec![0; 512]);
        results2.lock().unwrap().push(bad.result);
        assert_eq!(hc.bio_open("md9").unwrap_err(), HyperError::NoDevice);
    });
    let report = sim.run();
    assert_eq!(report.outcome, Outcome::Ok, "{}", report.outcome);
    assert_eq!(
        *results.lock().unwrap(),
        vec![
            Err(HyperError::Io),
            Ok(512),
            Ok(0),
            Ok(0),
            Err(HyperError::Invalid)
        ]
    );
    assert_eq!(report.faults_injected.len(), 1);
    assert!(report.faults_injected[0].detail.contains("EIO"));
}

/// Submits `count` writes at once and records the order of completions and
/// their times.
fn concurrent_writes(plan: &str, count: u64) -> (Vec<u64>, Vec<u64>, RunReport) {
    let mut sim = sim_with(plan);
    let hc: Hc = sim.hypercalls();
    let order = Arc::new(Mutex::new(Vec::new()));
    let order2 = order.clone();
    sim.spawn("client", move || {
        let dev = hc.bio_open("md0").unwrap().id;
        for index in 0..count {
            let (hc2, order3) = (hc.clone(), order2.clone());
            hc.bio_submit(
                dev,
                BioRequest {
                    op: BioOp::Write,
                    offset: index * 512,
                    buf: vec![index as u8; 512],
                },
                Box::new(move |done| {
                    assert_eq!(done.result, Ok(512));
                    order3
                        .lock()
                        .unwrap()
                        .push((index, hc2.clock_monotonic_ns()));
                }),
            );
        }
    });
    let report = sim.run();
    let order = order.lock().unwrap().clone();
    (
        order.iter().map(|o| o.0).collect(),
        order.iter().map(|o| o.1).collect(),
        report,
    )
}

#[test]
fn bio_latency_and_reordering() {
    let (order, times, _) = concurrent_writes("", 8);
    assert_eq!(order, (0..8).collect::<Vec<_>>());
    assert!(
        times.iter().all(|&t| t == 10_000),
        "default latency: {times:?}"
    );

    let (order, times, report) = concurrent_writes("bio.latency min=100us max=900us", 8);
    // Latency varies, but a device completes in submission order.
    assert_eq!(order, (0..8).collect::<Vec<_>>());
    assert!(times.windows(2).all(|w| w[0] <= w[1]));
    assert!(
        times.iter().all(|&t| (100_000..=900_000).contains(&t)),
        "{times:?}"
    );
    assert_eq!(report.faults_injected.len(), 8);

    let (order, _, report) = concurrent_writes("bio.latency min=100us max=900us; bio.reorder", 8);
    let mut sorted = order.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, (0..8).collect::<Vec<_>>());
    assert_ne!(order, sorted, "reordering changed nothing");
    assert!(report.faults_injected.iter().any(|f| f
        .detail
        .contains("completes before requests submitted earlier")));
}

#[test]
fn torn_writes_lost_writes_and_power_cut_images() {
    let mut sim = sim_with("bio.torn nth=1; bio.lost nth=2");
    let hc: Hc = sim.hypercalls();
    let results = Arc::new(Mutex::new(Vec::new()));
    let results2 = results.clone();
    sim.spawn("client", move || {
        let dev = hc.bio_open("md0").unwrap().id;
        // Torn: four blocks, only a prefix lands, and the write fails.
        let torn = bio_sync(&hc, dev, BioOp::Write, 0, vec![0xaa; 2048]);
        // Lost: the write succeeds and is readable, but is not durable.
        let cached = bio_sync(&hc, dev, BioOp::Write, 8192, vec![0xbb; 512]);
        let read = bio_sync(&hc, dev, BioOp::Read, 8192, vec![0; 512]);
        // An ordinary write is durable at once.
        let plain = bio_sync(&hc, dev, BioOp::Write, 16384, vec![0xcc; 512]);
        results2.lock().unwrap().extend([
            torn.result,
            cached.result,
            Ok(read.buf[0] as usize),
            plain.result,
        ]);
    });
    let report = sim.run();
    assert_eq!(report.outcome, Outcome::Ok, "{}", report.outcome);
    assert_eq!(
        *results.lock().unwrap(),
        vec![Err(HyperError::Io), Ok(512), Ok(0xbb), Ok(512)]
    );
    let torn_detail = &report.faults_injected[0].detail;
    assert!(torn_detail.contains("write torn"), "{torn_detail}");
    let live = sim.live_image("md0").unwrap();
    let durable = sim.durable_image("md0").unwrap();
    let mut block = vec![0u8; 512];
    live.read(8192, &mut block);
    assert_eq!(block, vec![0xbb; 512]);
    durable.read(8192, &mut block);
    assert_eq!(
        block,
        vec![0; 512],
        "an unflushed cached write survives no power cut"
    );
    durable.read(16384, &mut block);
    assert_eq!(block, vec![0xcc; 512]);
    // The torn write: a prefix of whole blocks, then nothing.
    let mut torn = vec![0u8; 2048];
    durable.read(0, &mut torn);
    let kept = torn.chunks(512).take_while(|b| b[0] == 0xaa).count();
    assert!(kept < 4);
    assert!(torn[kept * 512..].iter().all(|&b| b == 0));

    // Remount the power-cut image in a fresh simulation.
    let mut sim = Sim::new(SimConfig {
        block_devices: vec![BlockDeviceSpec::with_image("md0", durable)],
        ..Default::default()
    });
    let hc: Hc = sim.hypercalls();
    sim.spawn("remount", move || {
        let dev = hc.bio_open("md0").unwrap().id;
        let read = bio_sync(&hc, dev, BioOp::Read, 16384, vec![0; 512]);
        assert_eq!(read.buf, vec![0xcc; 512]);
        let read = bio_sync(&hc, dev, BioOp::Read, 8192, vec![0; 512]);
        assert_eq!(read.buf, vec![0; 512]);
    });
    assert_eq!(sim.run().outcome, Outcome::Ok);
}

#[test]
fn flush_makes_cached_writes_durable() {
    let mut sim = sim_with("bio.lost");
    let hc: Hc = sim.hypercalls();
    sim.spawn("client", move || {
        let dev = hc.bio_open("md0").unwrap().id;
        bio_sync(&hc, dev, BioOp::Write, 0, vec![1; 512]);
        bio_sync(&hc, dev, BioOp::Flush, 0, Vec::new());
        bio_sync(&hc, dev, BioOp::Write, 512, vec![2; 512]);
    });
    let report = sim.run();
    assert_eq!(report.outcome, Outcome::Ok);
    let durable = sim.durable_image("md0").unwrap().to_bytes();
    assert_eq!(&durable[..512], &[1; 512][..]);
    assert_eq!(&durable[512..1024], &[0; 512][..]);
    assert_eq!(durable.len(), 4 << 20);
}

#[test]
fn power_cut_stops_the_run_at_a_virtual_time() {
    let mut sim = Sim::new(SimConfig {
        block_devices: md0(),
        power_cut_ns: Some(55_000),
        ..Default::default()
    });
    let hc: Hc = sim.hypercalls();
    sim.spawn("writer", move || {
        let dev = hc.bio_open("md0").unwrap().id;
        for block in 0..100u64 {
            bio_sync(
                &hc,
                dev,
                BioOp::Write,
                block * 512,
                vec![block as u8 + 1; 512],
            );
        }
    });
    let report = sim.run();
    assert_eq!(report.outcome, Outcome::PowerCut { at_ns: 55_000 });
    assert!(!report.outcome.is_failure());
    let image = sim.durable_image("md0").unwrap();
    // 10 us per write: five writes completed before the cut.
    assert_eq!(image.blocks.len(), 5);
}

#[test]
fn clock_jitter_and_wall_clock_jumps() {
    let mut sim = sim_with("clock.jitter max=1ms; clock.jump at=2ms by=-1s");
    let hc: Hc = sim.hypercalls();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let seen2 = seen.clone();
    sim.spawn("sleeper", move || {
        let wall_before = hc.clock_wall_ns();
        hc.sleep_until(1_000_000);
        let woke = hc.clock_monotonic_ns();
        hc.sleep_until(5_000_000);
        let wall_after = hc.clock_wall_ns();
        let mono_after = hc.clock_monotonic_ns();
        seen2
            .lock()
            .unwrap()
            .extend([wall_before, woke, wall_after, mono_after]);
    });
    let report = sim.run();
    assert_eq!(report.outcome, Outcome::Ok);
    let seen = seen.lock().unwrap().clone();
    let (wall_before, woke, wall_after, mono_after) = (seen[0], seen[1], seen[2], seen[3]);
    assert!((1_000_000..=2_000_000).contains(&woke), "woke at {woke}");
    assert!(
        woke > 1_000_000,
        "the jitter rule always fires; seed 9 draws > 0"
    );
    assert_eq!(wall_after, wall_before + mono_after - 1_000_000_000);
    let classes: Vec<&str> = report.faults_injected.iter().map(|f| f.class).collect();
    assert_eq!(classes, vec!["clock", "clock", "clock"]);
    assert!(report.faults_injected[2]
        .detail
        .contains("wall clock jumps by -1s"));
    assert_eq!(report.faults_injected[2].time_ns, woke.max(2_000_000));
}

#[test]
fn parser_never_panics_and_accepted_plans_round_trip() {
    const PIECES: &[&str] = &[
        "alloc",
        "thread",
        "bio.error",
        "bio.latency",
        "bio.reorder",
        "bio.torn",
        "bio.lost",
        "clock.jitter",
        "clock.jump",
        " ",
        " ",
        ";",
        "\n",
        "#",
        "=",
        "nth=",
        "p=",
        "after=",
        "until=",
        "limit=",
        "site=",
        "name=",
        "dev=",
        "op=",
        "min=",
        "max=",
        "at=",
        "by=",
        "3",
        "0",
        "0.5",
        "1",
        "-",
        "10ms",
        "5us",
        "2s",
        "7ns",
        "tmpfs.*",
        "md0",
        "write",
        "x",
        "é",
        "99999999999999999999",
        "1e-3",
    ];
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut accepted = 0;
    for _ in 0..20_000 {
        let length = next() % 12;
        let text: String = (0..length)
            .map(|_| PIECES[(next() % PIECES.len() as u64) as usize])
            .collect();
        match FaultPlan::parse(&text) {
            Ok(plan) => {
                accepted += 1;
                let canonical = plan.to_string();
                assert_eq!(FaultPlan::parse(&canonical).as_ref(), Ok(&plan), "{text:?}");
            }
            Err(error) => assert!(error.offset <= text.len(), "{text:?}: {error}"),
        }
    }
    assert!(accepted > 1000, "only {accepted} accepted");
}
