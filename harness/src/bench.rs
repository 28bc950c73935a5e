//! `rumpkit bench`: how fast the deterministic platform is, measured with
//! the host's clock from outside the simulation, against the targets of the
//! deterministic-platform issue.
//!
//! | figure | what one sample is | target |
//! |---|---|---|
//! | `boot_halt_us` | a fresh [`Sim`], boot of a vfs + dev kernel with tmpfs and md, halt, [`Sim::run`] | ≤ 20 µs median |
//! | `case_us` | the same, plus mounting tmpfs and a 20-system-call case | — |
//! | `switch_ns` | two threads ping-ponging with `thread_yield`: time per switch | ≤ 100 ns median |
//! | `switch_cv_ns` | two threads handing a turn over with a mutex and a condvar: time per handoff | — |
//! | `schedules_per_s` | complete runs of a small mutex/condvar workload, random schedule, new seed each run | more than shuttle |
//! | `shuttle_schedules_per_s` | the same workload on `shuttle::{sync, thread}` under `shuttle`'s random scheduler, in the same process | — |
//!
//! Medians (p50) and p90s are over many samples; schedules per second are
//! runs divided by wall time. Numbers from a debug build are not meaningful
//! (the output says so): use `cargo run --release -p rumpkit -- bench`.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rumpkit_fault::hypercall::Hypercalls;
use rumpkit_fault::{BlockDeviceSpec, Preemption, RunReport, Sim, SimConfig, Strategy};
use rumpkit_kernel::syscall::abi::{O_CREAT, O_RDWR, SEEK_SET};
use rumpkit_kernel::{BootConfig, Faction, Kernel};

/// The targets: boot + halt median at most this many microseconds.
pub const BOOT_HALT_TARGET_US: f64 = 20.0;
/// A context switch median at most this many nanoseconds.
pub const SWITCH_TARGET_NS: f64 = 100.0;

/// Options of `rumpkit bench`.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct BenchArgs {
    /// Print one JSON object instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Samples per timed figure (boot+halt, case); default 2000, or 200
    /// with --quick.
    #[arg(long)]
    pub samples: Option<usize>,
    /// Fewer samples and shorter exploration runs (a smoke run).
    #[arg(long)]
    pub quick: bool,
}

/// Every figure of one `rumpkit bench` run.
#[derive(Debug, Clone, serde::Serialize)]
pub struct BenchReport {
    /// `"release"` or `"debug"`.
    pub build: &'static str,
    /// Samples per timed figure.
    pub samples: usize,
    /// Fresh simulation + boot (vfs, dev, tmpfs, md) + halt + run, median.
    pub boot_halt_us_p50: f64,
    /// The same, 90th percentile.
    pub boot_halt_us_p90: f64,
    /// Boot, mount tmpfs, 20 system calls, halt, median.
    pub case_us_p50: f64,
    /// The same, 90th percentile.
    pub case_us_p90: f64,
    /// Kernel-thread switch through `thread_yield`, median of samples.
    pub switch_ns_p50: f64,
    /// The same, 90th percentile.
    pub switch_ns_p90: f64,
    /// A mutex + condvar handoff between two threads, median of samples.
    pub switch_cv_ns_p50: f64,
    /// Complete random-schedule runs of the mutex/condvar workload per second.
    pub schedules_per_s: f64,
    /// The same workload under shuttle's random scheduler.
    pub shuttle_schedules_per_s: f64,
    /// Whether boot + halt met its target.
    pub boot_halt_target_met: bool,
    /// Whether the context switch met its target.
    pub switch_target_met: bool,
    /// Whether the platform explored more schedules per second than shuttle.
    pub schedules_target_met: bool,
}

/// Runs the benchmark and prints the table (or the JSON object).
pub fn run_cli(args: &BenchArgs) -> Result<(), String> {
    let report = measure(args)?;
    if args.json {
        let text = serde_json::to_string_pretty(&report).map_err(|error| error.to_string())?;
        println!("{text}");
    } else {
        print_table(&report);
    }
    Ok(())
}

/// Measures every figure.
pub fn measure(args: &BenchArgs) -> Result<BenchReport, String> {
    let samples = args
        .samples
        .unwrap_or(if args.quick { 200 } else { 2_000 })
        .max(1);
    let explore_for = if args.quick {
        Duration::from_millis(200)
    } else {
        Duration::from_secs(1)
    };
    let switch_samples = if args.quick { 10 } else { 50 };

    // Warm up: the stack pool, the allocator, the caches.
    for _ in 0..samples.min(100) {
        boot_halt_once()?;
        case_once()?;
    }
    let boot_halt = sample(samples, boot_halt_once)?;
    let case = sample(samples, case_once)?;
    let switch = sample(switch_samples, || switch_yield_once(10_000))?;
    let switch_cv = sample(switch_samples, || switch_condvar_once(5_000))?;
    let schedules_per_s = sim_schedules_per_second(explore_for)?;
    let shuttle_schedules_per_s = shuttle_schedules_per_second(explore_for);

    let boot_halt_us_p50 = percentile(&boot_halt, 50) / 1_000.0;
    let switch_ns_p50 = percentile(&switch, 50);
    Ok(BenchReport {
        build: if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        },
        samples,
        boot_halt_us_p50,
        boot_halt_us_p90: percentile(&boot_halt, 90) / 1_000.0,
        case_us_p50: percentile(&case, 50) / 1_000.0,
        case_us_p90: percentile(&case, 90) / 1_000.0,
        switch_ns_p50,
        switch_ns_p90: percentile(&switch, 90),
        switch_cv_ns_p50: percentile(&switch_cv, 50),
        schedules_per_s,
        shuttle_schedules_per_s,
        boot_halt_target_met: boot_halt_us_p50 <= BOOT_HALT_TARGET_US,
        switch_target_met: switch_ns_p50 <= SWITCH_TARGET_NS,
        schedules_target_met: schedules_per_s > shuttle_schedules_per_s,
    })
}

fn print_table(report: &BenchReport) {
    let verdict = |met: bool| if met { "pass" } else { "MISS" };
    println!(
        "rumpkit bench ({} build, {} samples per timed figure)",
        report.build, report.samples
    );
    if report.build == "debug" {
        println!("note: a debug build; measure with `cargo run --release -p rumpkit -- bench`");
    }
    println!(
        "{:<44} {:>12} {:>12} {:>12}  result",
        "figure", "p50", "p90", "target"
    );
    println!(
        "{:<44} {:>9.2} µs {:>9.2} µs {:>12}  {}",
        "boot+halt (vfs+dev, tmpfs+md, fresh sim)",
        report.boot_halt_us_p50,
        report.boot_halt_us_p90,
        format!("≤ {BOOT_HALT_TARGET_US} µs"),
        verdict(report.boot_halt_target_met)
    );
    println!(
        "{:<44} {:>9.2} µs {:>9.2} µs {:>12}",
        "20-syscall case (boot, mount, 20 calls, halt)",
        report.case_us_p50,
        report.case_us_p90,
        "-"
    );
    println!(
        "{:<44} {:>9.1} ns {:>9.1} ns {:>12}  {}",
        "context switch (thread_yield ping-pong)",
        report.switch_ns_p50,
        report.switch_ns_p90,
        format!("≤ {SWITCH_TARGET_NS} ns"),
        verdict(report.switch_target_met)
    );
    println!(
        "{:<44} {:>9.1} ns {:>12} {:>12}",
        "mutex+condvar handoff", report.switch_cv_ns_p50, "", "-"
    );
    println!(
        "{:<44} {:>12.0} {:>12} {:>12}  {}",
        "schedules/s (rumpkit, random, lock preemption)",
        report.schedules_per_s,
        "",
        "> shuttle",
        verdict(report.schedules_target_met)
    );
    println!(
        "{:<44} {:>12.0} {:>12} {:>12}",
        "schedules/s (shuttle 0.8, check_random)", report.shuttle_schedules_per_s, "", ""
    );
    let ratio = report.schedules_per_s / report.shuttle_schedules_per_s.max(f64::MIN_POSITIVE);
    println!(
        "rumpkit explores {ratio:.1}x the schedules per second of shuttle on the same workload"
    );
}

/// `count` samples of `once`, each the nanoseconds it reported.
fn sample(count: usize, mut once: impl FnMut() -> Result<f64, String>) -> Result<Vec<f64>, String> {
    let mut samples = Vec::with_capacity(count);
    for _ in 0..count {
        samples.push(once()?);
    }
    samples.sort_by(f64::total_cmp);
    Ok(samples)
}

/// The `p`-th percentile of sorted samples.
fn percentile(sorted: &[f64], p: usize) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let index = (sorted.len() * p / 100).min(sorted.len() - 1);
    sorted[index]
}

fn check(what: &str, report: &RunReport) -> Result<(), String> {
    if report.is_success() {
        Ok(())
    } else {
        Err(format!(
            "bench: {what} failed (seed {}): {}",
            report.seed, report.outcome
        ))
    }
}

const BOOT: BootConfig<'static> = BootConfig {
    factions: &[Faction::Vfs, Faction::Dev],
    components: &[&rumpkit_tmpfs::COMPONENT, &rumpkit_md::COMPONENT],
    memory_limit_bytes: None,
};

fn kernel_sim() -> Sim {
    Sim::new(SimConfig {
        block_devices: vec![BlockDeviceSpec::new("md0", 4 << 20, 512)],
        ..Default::default()
    })
}

/// One fresh simulation, boot, halt, run; nanoseconds.
fn boot_halt_once() -> Result<f64, String> {
    let start = Instant::now();
    let mut sim = kernel_sim();
    let hc = sim.hypercalls();
    sim.spawn("bench", move || {
        let kernel = Kernel::boot(hc, &BOOT).expect("boot");
        let report = kernel.halt().expect("halt");
        assert!(!report.leaked(), "leaked: {report:?}");
    });
    let report = sim.run();
    let elapsed = start.elapsed().as_nanos() as f64;
    check("boot+halt", &report)?;
    Ok(elapsed)
}

/// One fresh simulation, boot, mount, 20 system calls, halt; nanoseconds.
fn case_once() -> Result<f64, String> {
    let start = Instant::now();
    let mut sim = kernel_sim();
    let hc = sim.hypercalls();
    sim.spawn("bench", move || {
        let kernel = Kernel::boot(hc, &BOOT).expect("boot");
        let pid = kernel.proc_create().expect("proc_create");
        let sys = kernel.sys(pid);
        // The 20 system calls.
        sys.mount(b"tmpfs", b"/", 0, b"").expect("mount");
        sys.mkdir(b"/d", 0o755).expect("mkdir");
        let fd = sys.open(b"/d/f", O_CREAT | O_RDWR, 0o644).expect("open");
        assert_eq!(sys.write(fd, b"hello, world"), Ok(12));
        assert_eq!(sys.pwrite(fd, b"tail", 100), Ok(4));
        assert_eq!(sys.lseek(fd, 0, SEEK_SET), Ok(0));
        let mut buf = [0u8; 128];
        assert_eq!(sys.read(fd, &mut buf), Ok(104));
        assert_eq!(sys.fstat(fd).expect("fstat").size, 104);
        sys.ftruncate(fd, 50).expect("ftruncate");
        sys.fsync(fd).expect("fsync");
        sys.close(fd).expect("close");
        sys.rename(b"/d/f", b"/d/g").expect("rename");
        sys.link(b"/d/g", b"/d/h").expect("link");
        assert_eq!(sys.stat(b"/d/h").expect("stat").nlink, 2);
        sys.symlink(b"/d/g", b"/s").expect("symlink");
        assert_eq!(sys.readlink(b"/s", &mut buf), Ok(4));
        sys.unlink(b"/d/g").expect("unlink");
        sys.unlink(b"/d/h").expect("unlink");
        sys.unlink(b"/s").expect("unlink");
        sys.rmdir(b"/d").expect("rmdir");
        kernel.proc_destroy(pid).expect("proc_destroy");
        let report = kernel.halt().expect("halt");
        assert!(!report.leaked(), "leaked: {report:?}");
    });
    let report = sim.run();
    let elapsed = start.elapsed().as_nanos() as f64;
    check("the 20-syscall case", &report)?;
    Ok(elapsed)
}

/// Two threads yielding to each other `rounds` times each; nanoseconds per
/// switch (per scheduling decision).
fn switch_yield_once(rounds: u64) -> Result<f64, String> {
    let mut sim = Sim::new(SimConfig {
        step_budget: u64::MAX,
        ..Default::default()
    });
    for thread in 0..2 {
        let hc: Arc<dyn Hypercalls> = sim.hypercalls();
        sim.spawn(&format!("pingpong{thread}"), move || {
            for _ in 0..rounds {
                hc.thread_yield();
            }
        });
    }
    let start = Instant::now();
    let report = sim.run();
    let elapsed = start.elapsed().as_nanos() as f64;
    check("the yield ping-pong", &report)?;
    Ok(elapsed / report.steps.max(1) as f64)
}

/// Two threads taking turns through a mutex and a condvar, `rounds` turns
/// each; nanoseconds per handoff (one thread waking the other and waiting).
fn switch_condvar_once(rounds: u32) -> Result<f64, String> {
    let mut sim = Sim::new(SimConfig {
        step_budget: u64::MAX,
        ..Default::default()
    });
    let hc: Arc<dyn Hypercalls> = sim.hypercalls();
    let lock = hc.mutex_create("turn.lock");
    let cv = hc.cv_create("turn.cv");
    let turn = Arc::new(AtomicU32::new(0));
    for me in 0..2u32 {
        let (hc, turn) = (hc.clone(), turn.clone());
        sim.spawn(&format!("handoff{me}"), move || {
            hc.mutex_enter(lock);
            for _ in 0..rounds {
                while turn.load(Ordering::Relaxed) % 2 != me {
                    hc.cv_wait(cv, lock);
                }
                turn.fetch_add(1, Ordering::Relaxed);
                hc.cv_signal(cv);
            }
            hc.mutex_exit(lock);
        });
    }
    let start = Instant::now();
    let report = sim.run();
    let elapsed = start.elapsed().as_nanos() as f64;
    check("the condvar handoff", &report)?;
    if turn.load(Ordering::Relaxed) != 2 * rounds {
        return Err("bench: the condvar handoff lost turns".to_string());
    }
    Ok(elapsed / f64::from(2 * rounds))
}

/// The exploration workload's size: threads, and increments per thread.
const WORKERS: u32 = 3;
const INCREMENTS: u32 = 3;

/// One run of the exploration workload on the platform: a main thread
/// starts [`WORKERS`] threads that each add to a counter [`INCREMENTS`]
/// times under a mutex, broadcasting a condvar, then wait under the mutex
/// until every increment happened; main joins them.
fn sim_workload_once(seed: u64) -> Result<(), String> {
    let mut sim = Sim::new(SimConfig {
        seed,
        strategy: Strategy::Random,
        preemption: Preemption::Locks,
        ..Default::default()
    });
    let hc: Arc<dyn Hypercalls> = sim.hypercalls();
    sim.spawn("main", move || {
        let lock = hc.mutex_create("counter.lock");
        let cv = hc.cv_create("counter.cv");
        let counter = Arc::new(AtomicU32::new(0));
        let mut workers = Vec::with_capacity(WORKERS as usize);
        for _ in 0..WORKERS {
            let (worker_hc, counter) = (hc.clone(), counter.clone());
            let entry = Box::new(move || {
                let hc = worker_hc;
                for _ in 0..INCREMENTS {
                    hc.mutex_enter(lock);
                    counter.fetch_add(1, Ordering::Relaxed);
                    hc.cv_broadcast(cv);
                    hc.mutex_exit(lock);
                }
                hc.mutex_enter(lock);
                while counter.load(Ordering::Relaxed) < WORKERS * INCREMENTS {
                    hc.cv_wait(cv, lock);
                }
                hc.mutex_exit(lock);
            });
            workers.push(hc.thread_create("worker", entry).expect("thread_create"));
        }
        for worker in workers {
            hc.thread_join(worker);
        }
        assert_eq!(counter.load(Ordering::Relaxed), WORKERS * INCREMENTS);
        hc.cv_destroy(cv);
        hc.mutex_destroy(lock);
    });
    check("the exploration workload", &sim.run())
}

/// The same workload on shuttle's primitives.
fn shuttle_workload() {
    use shuttle::sync::{Condvar, Mutex};
    let shared = std::sync::Arc::new((Mutex::new(0u32), Condvar::new()));
    let workers: Vec<_> = (0..WORKERS)
        .map(|_| {
            let shared = shared.clone();
            shuttle::thread::spawn(move || {
                let (lock, cv) = &*shared;
                for _ in 0..INCREMENTS {
                    let mut counter = lock.lock().unwrap();
                    *counter += 1;
                    cv.notify_all();
                    drop(counter);
                }
                let mut counter = lock.lock().unwrap();
                while *counter < WORKERS * INCREMENTS {
                    counter = cv.wait(counter).unwrap();
                }
            })
        })
        .collect();
    for worker in workers {
        worker.join().unwrap();
    }
    assert_eq!(*shared.0.lock().unwrap(), WORKERS * INCREMENTS);
}

/// Complete random-schedule runs per second on the platform, a new seed
/// per run, for about `budget` of wall time.
fn sim_schedules_per_second(budget: Duration) -> Result<f64, String> {
    for seed in 0..100 {
        sim_workload_once(u64::MAX - seed)?;
    }
    let start = Instant::now();
    let mut runs = 0u64;
    while start.elapsed() < budget {
        for _ in 0..100 {
            sim_workload_once(runs)?;
            runs += 1;
        }
    }
    Ok(runs as f64 / start.elapsed().as_secs_f64())
}

/// Complete runs per second under shuttle's random scheduler (`check_random`
/// in batches), for about `budget` of wall time.
fn shuttle_schedules_per_second(budget: Duration) -> f64 {
    shuttle::check_random(shuttle_workload, 100);
    let start = Instant::now();
    let mut runs = 0u64;
    while start.elapsed() < budget {
        shuttle::check_random(shuttle_workload, 1_000);
        runs += 1_000;
    }
    runs as f64 / start.elapsed().as_secs_f64()
}
