//! Fuzz target bodies as ordinary library functions, so that they run on
//! stable Rust without cargo-fuzz: the `fuzz/` crate's targets are one line
//! each, and `harness/tests/fuzz_corpus.rs` replays every saved input through
//! the same functions in CI.
//!
//! * [`syscalls`] — typed system-call sequences on one to three client
//!   threads, with a fault plan and a scheduler seed drawn from the input, on
//!   a fresh simulation and kernel per input; single-threaded fault-free
//!   inputs are compared with a reference model of tmpfs.
//! * [`raw_syscalls`] — the numbered dispatcher with arbitrary `u64`
//!   arguments, pointers into a user address space with a few mappings.
//! * [`scenario_parser`] — arbitrary text into the scenario parser and
//!   checker, and a print → reparse round trip.
//! * [`block_io`] — reads, writes and flushes of `md0` through devfs and the
//!   dev faction's API under block-I/O fault plans, checked against a shadow
//!   copy of the device.
//! * [`to_scenario`] — turns a `syscalls` or `block_io` input into a `.scn`
//!   script, so that a crash becomes a regression test.
//! * [`model`] — the reference model of tmpfs the `syscalls` target (and the
//!   proptest suite `harness/tests/vfs_model.rs`) compares the kernel with,
//!   over the typed calls [`Op`].
//!
//! Every target panics on a finding (that is what a fuzzer records as a
//! crash) and returns normally otherwise. Inputs are decoded with
//! [`arbitrary::Unstructured`], one byte at a time, so a short input is a
//! short program and every input decodes to something.

mod block;
pub mod model;
mod parser;
mod raw;
mod scenario;
mod seeds;
mod syscalls;

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::Arc;

use arbitrary::Unstructured;
use rumpkit_fault::{FaultPlan, Preemption, RunReport, Sim, SimConfig, Strategy};
use rumpkit_kernel::{BootConfig, Faction, Kernel, Pid};

pub use block::block_io;
pub use parser::scenario_parser;
pub use raw::raw_syscalls;
pub use scenario::to_scenario;
pub use seeds::seed_corpus;
pub use syscalls::{syscalls, Op, OPEN_FLAGS, PATHS, WHENCES};

/// The fuzz targets, by the names of `fuzz/fuzz_targets/*.rs`.
pub const TARGETS: &[&str] = &["syscalls", "raw_syscalls", "scenario_parser", "block_io"];

/// The target body called `name`, if there is one.
pub fn target(name: &str) -> Option<fn(&[u8])> {
    match name {
        "syscalls" => Some(syscalls),
        "raw_syscalls" => Some(raw_syscalls),
        "scenario_parser" => Some(scenario_parser),
        "block_io" => Some(block_io),
        _ => None,
    }
}

/// The most system calls one `syscalls` or `raw_syscalls` input decodes to.
pub const MAX_OPS: usize = 40;

/// The most operations one `block_io` input decodes to (each may take
/// several block requests, each a completion on a coroutine of its own).
pub const MAX_BLOCK_OPS: usize = 24;

/// The size of `md0` in the `syscalls`, `raw_syscalls` and `block_io`
/// targets.
pub const MD0_SIZE: u64 = 24 << 10;

/// The block size of `md0`.
pub const MD0_BLOCK: u32 = 512;

/// Reads an input a byte at a time; the end of the input reads as zeros.
pub(crate) struct Input<'a> {
    u: Unstructured<'a>,
}

impl<'a> Input<'a> {
    pub(crate) fn new(data: &'a [u8]) -> Input<'a> {
        Input {
            u: Unstructured::new(data),
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.u.is_empty()
    }

    pub(crate) fn byte(&mut self) -> u8 {
        self.u.arbitrary::<u8>().unwrap_or(0)
    }

    /// A byte below `n` (`n` > 0).
    pub(crate) fn below(&mut self, n: usize) -> usize {
        usize::from(self.byte()) % n
    }

    pub(crate) fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.byte(), self.byte()])
    }

    pub(crate) fn u64(&mut self) -> u64 {
        self.u.arbitrary::<u64>().unwrap_or(0)
    }

    /// Up to `max` bytes, length first.
    pub(crate) fn bytes(&mut self, max: usize) -> Vec<u8> {
        let len = self.below(max + 1);
        (0..len).map(|_| self.byte()).collect()
    }
}

/// The scheduling part of an input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Schedule {
    pub seed: u64,
    pub strategy: Strategy,
    pub preemption: Preemption,
}

impl Schedule {
    pub(crate) fn decode(input: &mut Input<'_>) -> Schedule {
        let seed = input.u64();
        let choice = input.byte();
        let strategy = match choice % 4 {
            0 | 1 => Strategy::Random,
            2 => Strategy::pct(1 + u32::from(choice / 4) % 3),
            _ => Strategy::RoundRobin,
        };
        let preemption = if choice & 0x10 != 0 {
            Preemption::None
        } else {
            Preemption::Locks
        };
        Schedule {
            seed,
            strategy,
            preemption,
        }
    }

    /// The scenario directives for this schedule.
    pub(crate) fn directives(&self) -> String {
        let strategy = match &self.strategy {
            Strategy::Pct { depth, .. } => format!("strategy pct depth={depth}"),
            Strategy::RoundRobin => "strategy roundrobin".to_string(),
            _ => "strategy random".to_string(),
        };
        let preempt = match self.preemption {
            Preemption::None => "preempt none",
            Preemption::Locks => "preempt locks",
            Preemption::AllHypercalls => "preempt all",
        };
        format!("{strategy}\n{preempt}\n")
    }
}

/// A probability for a fault rule, from a byte: 0.01 to 0.5.
pub(crate) fn probability(byte: u8) -> String {
    let hundredths = 1 + u32::from(byte) % 50;
    format!("0.{hundredths:02}")
}

/// Parses a plan this module generated (a plan that does not parse is a bug
/// in the generator); also its canonical text.
pub(crate) fn plan(text: &str) -> (FaultPlan, String) {
    if text.is_empty() {
        return (FaultPlan::default(), String::new());
    }
    let plan = FaultPlan::parse(text)
        .unwrap_or_else(|error| panic!("generated fault plan {text:?}: {error}"));
    let canonical = plan.to_string();
    (plan, canonical)
}

/// The simulation every target runs on. With one client thread there is
/// nothing to interleave, so preemption points are left out (they only cost
/// time).
pub(crate) fn sim_config(schedule: &Schedule, faults: FaultPlan, threads: usize) -> SimConfig {
    SimConfig {
        seed: schedule.seed,
        strategy: schedule.strategy.clone(),
        preemption: if threads > 1 {
            schedule.preemption
        } else {
            Preemption::None
        },
        faults,
        block_devices: vec![rumpkit_fault::BlockDeviceSpec::new(
            "md0", MD0_SIZE, MD0_BLOCK,
        )],
        step_budget: 200_000,
        ..Default::default()
    }
}

/// What every run must not end with.
pub(crate) fn check_report(target: &str, report: &RunReport) {
    assert!(
        !report.outcome.is_failure(),
        "{target}: the run failed (seed {}): {}",
        report.seed,
        report.outcome
    );
    assert!(
        report.leaks.is_empty(),
        "{target}: kernel memory leaked: {:?}",
        report.leaks
    );
}

/// Boots `vfs dev tmpfs md` on the simulation (outside any simulated thread:
/// booting makes no blocking hypercall). `None` if boot failed, which an
/// allocation fault may legitimately cause.
pub(crate) fn boot(sim: &Sim) -> Option<Arc<Kernel>> {
    Kernel::boot(
        sim.hypercalls(),
        &BootConfig {
            factions: &[Faction::Vfs, Faction::Dev],
            components: &[&rumpkit_tmpfs::COMPONENT, &rumpkit_md::COMPONENT],
            memory_limit_bytes: None,
        },
    )
    .ok()
}

/// A client thread's body.
pub(crate) type Client = Box<dyn FnOnce(&Kernel)>;

/// Spawns one simulated thread per client; the last to finish destroys
/// `pid` (if any), halts the kernel and insists that nothing leaked. With no
/// clients, one empty client halts.
pub(crate) fn spawn_clients(
    target: &'static str,
    sim: &Sim,
    kernel: Arc<Kernel>,
    pid: Option<Pid>,
    mut clients: Vec<Client>,
) {
    if clients.is_empty() {
        clients.push(Box::new(|_| {}));
    }
    let shared = Rc::new((RefCell::new(Some(kernel)), Cell::new(clients.len())));
    const NAMES: [&str; 4] = ["t0", "t1", "t2", "t3"];
    for (i, body) in clients.into_iter().enumerate() {
        let shared = shared.clone();
        let name = NAMES.get(i).copied().unwrap_or("tn");
        sim.spawn(name, move || {
            let kernel = shared.0.borrow().clone().expect("the kernel is up");
            body(&kernel);
            drop(kernel);
            let left = shared.1.get() - 1;
            shared.1.set(left);
            if left == 0 {
                let kernel = shared.0.borrow_mut().take().expect("halted once");
                if let Some(pid) = pid {
                    if let Err(errno) = kernel.proc_destroy(pid) {
                        panic!("{target}: proc_destroy: {errno}");
                    }
                }
                match kernel.halt() {
                    Ok(report) => assert!(
                        !report.leaked(),
                        "{target}: kernel memory leaked at halt: {:?}",
                        report.memory
                    ),
                    Err(error) => panic!("{target}: halt: {error:?}"),
                }
            }
        });
    }
}

/// Renders bytes as a scenario string literal.
pub(crate) fn scn_string(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() + 2);
    out.push('"');
    for &b in bytes {
        match b {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            b'\t' => out.push_str("\\t"),
            b'\r' => out.push_str("\\r"),
            0 => out.push_str("\\0"),
            0x20..=0x7e => out.push(b as char),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out.push('"');
    out
}
