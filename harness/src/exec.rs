//! The scenario executor: loads a `.scn` script, and runs it for one seed on
//! a fresh deterministic simulation with a freshly booted kernel.
//!
//! A case runs like this. The script's directives become a
//! [`SimConfig`] (strategy, preemption, fault plan, block devices,
//! parameters) whose seed is the case's seed. One client thread, `main`,
//! boots the kernel from the `boot` line, creates a process and makes the
//! script's system calls in order through the kernel's typed system-call
//! API, comparing each result with its expectation. A `threads` block runs
//! each of its threads as a client thread created with the `thread_create`
//! hypercall, all in the same process, and joins them. At `halt` (or at the
//! end of the script) the process is destroyed and the kernel halted; memory
//! still allocated then is a leak. The first failed expectation stops its
//! thread and fails the case; a panic, deadlock, livelock or leak found by
//! the platform fails it too.
//!
//! Everything a case does is a function of the script and the seed: the log
//! of calls and results, the console and the trace hash repeat exactly.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use rumpkit_fault::{
    BlockDeviceSpec, FaultPlan, Outcome, Preemption, RunReport, Sim, SimConfig, Strategy, Trace,
};
use rumpkit_hypercall::Hypercalls;
use rumpkit_kernel::syscall::abi;
use rumpkit_kernel::syscall::{Pid, Stat};
use rumpkit_kernel::{BootConfig, BootError, Component, Errno, Faction, KResult, Kernel};
use rumpkit_scenario::{
    ArgKind, Call, CallTable, Diagnostic, Diagnostics, ErrorKind, ExpectAlt, FlagTerm, ResultKind,
    Script, Span, Stmt, StmtKind, Value,
};

use crate::table::KernelTable;

/// Components booted when a script has no `boot` line.
pub const DEFAULT_BOOT: &[&str] = &["vfs", "dev", "tmpfs", "md"];

/// The PCT depth when `strategy pct` names none.
pub const DEFAULT_PCT_DEPTH: u32 = 3;

/// How many scheduling decisions PCT spreads its change points over.
const PCT_HORIZON: u64 = 400;

/// The largest buffer a `read`, `pread` or `getdents` hands the kernel.
const READ_MAX: usize = 1 << 24;

/// Coroutine stack size: unoptimised builds of deep kernel paths want more
/// than the platform's default.
const STACK_SIZE: usize = 256 * 1024;

/// A parsed and checked scenario with its settings.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// Its name: the path below the suite root without `.scn`
    /// (`vfs/rename`), which is also its test name.
    pub name: String,
    /// The file name used in messages (the path as given).
    pub file_name: String,
    /// The parsed script.
    pub script: Script,
    /// What its directives say.
    pub settings: Settings,
}

/// What a script's directives set.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Factions to boot.
    pub factions: Vec<Faction>,
    /// Driver components to boot, by name.
    pub drivers: Vec<&'static str>,
    /// Platform parameters (`memlimit`, `ncpu`, `md.units`).
    pub params: BTreeMap<String, String>,
    /// Backing block devices.
    pub block_devices: Vec<(String, u64, u32)>,
    /// `seeds N`.
    pub seeds: Option<u64>,
    /// The scheduling strategy (before the seed is applied).
    pub strategy: Strategy,
    /// How the strategy is written in a script.
    pub strategy_text: String,
    /// Where preemption points are.
    pub preemption: Preemption,
    /// How the preemption is written in a script.
    pub preempt_text: &'static str,
    /// The fault plan, in its text form (lines joined by `; `).
    pub faults: String,
    /// `expect-fail`.
    pub expect_fail: bool,
}

/// Why a scenario could not be loaded.
#[derive(Debug)]
pub enum LoadError {
    /// The file could not be read.
    Io(String),
    /// The script has errors (positioned diagnostics).
    Script(Diagnostics),
}

impl LoadError {
    /// The error for a terminal (colours only on a terminal).
    pub fn render_for_stderr(&self) -> String {
        match self {
            LoadError::Io(message) => format!("error: {message}"),
            LoadError::Script(diagnostics) => diagnostics.render_for_stderr(),
        }
    }
}

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LoadError::Io(message) => write!(f, "error: {message}"),
            LoadError::Script(diagnostics) => f.write_str(&diagnostics.render(false)),
        }
    }
}

impl std::error::Error for LoadError {}

impl Scenario {
    /// Reads, parses and checks the script at `path`, naming it `name`.
    pub fn load(path: &Path, name: impl Into<String>) -> Result<Scenario, LoadError> {
        let source = std::fs::read_to_string(path)
            .map_err(|e| LoadError::Io(format!("cannot read {}: {e}", path.display())))?;
        Scenario::from_source(name, &path.display().to_string(), &source)
    }

    /// Parses and checks `source`, naming the scenario `name` and using
    /// `file_name` in messages.
    pub fn from_source(
        name: impl Into<String>,
        file_name: &str,
        source: &str,
    ) -> Result<Scenario, LoadError> {
        let script = rumpkit_scenario::parse(file_name, source).map_err(LoadError::Script)?;
        Scenario::from_script(name, script)
    }

    /// Checks an already parsed script.
    pub fn from_script(name: impl Into<String>, script: Script) -> Result<Scenario, LoadError> {
        rumpkit_scenario::check(&script, &KernelTable).map_err(LoadError::Script)?;
        let settings = settings(&script).map_err(LoadError::Script)?;
        Ok(Scenario {
            name: name.into(),
            file_name: script.file_name.clone(),
            script,
            settings,
        })
    }

    /// The seed count: `seeds N` in the script, else `default`.
    pub fn seed_count(&self, default: u64) -> u64 {
        self.settings.seeds.unwrap_or(default)
    }

    /// The simulation configuration for `seed`.
    pub fn sim_config(&self, seed: u64) -> SimConfig {
        let s = &self.settings;
        SimConfig {
            seed,
            strategy: s.strategy.clone(),
            preemption: s.preemption,
            // Checked when the scenario was loaded.
            faults: FaultPlan::parse(&s.faults).unwrap_or_default(),
            block_devices: s
                .block_devices
                .iter()
                .map(|(name, size, block)| BlockDeviceSpec::new(name, *size, *block))
                .collect(),
            params: s.params.clone(),
            stack_size: STACK_SIZE,
            ..SimConfig::default()
        }
    }

    /// The settings of a case, for people: `seed 3, strategy pct depth=3,
    /// preempt locks, faults "alloc nth=2"`.
    pub fn describe(&self, seed: u64) -> String {
        let s = &self.settings;
        let mut text = format!(
            "seed {seed}, strategy {}, preempt {}",
            s.strategy_text, s.preempt_text
        );
        if !s.faults.is_empty() {
            let _ = write!(text, ", faults {:?}", s.faults);
        }
        text
    }
}

fn error(kind: ErrorKind, message: impl Into<String>, span: Span) -> Diagnostic {
    Diagnostic::new(kind, message, span)
}

/// Reads the directives into [`Settings`], reporting what the checker cannot
/// know: unknown boot parameters and bad fault plans.
fn settings(script: &Script) -> Result<Settings, Diagnostics> {
    let mut diagnostics = Diagnostics::new(script.file_name.clone(), script.source.clone());
    let mut settings = Settings {
        factions: Vec::new(),
        drivers: Vec::new(),
        params: BTreeMap::new(),
        block_devices: Vec::new(),
        seeds: None,
        strategy: Strategy::Random,
        strategy_text: "random".into(),
        preemption: Preemption::Locks,
        preempt_text: "locks",
        faults: String::new(),
        expect_fail: false,
    };
    let mut components: Vec<String> = DEFAULT_BOOT.iter().map(|s| s.to_string()).collect();
    let mut md_units = 1u64;
    let mut md_size = 4u64 << 20;
    let mut md_block = 512u64;
    for stmt in &script.stmts {
        match &stmt.kind {
            StmtKind::Boot {
                components: names,
                params,
            } => {
                components = names.iter().map(|n| n.node.clone()).collect();
                for param in params {
                    let number = match &param.value.node {
                        Value::Int(i) if i.value >= 0 => Some(i.value as u64),
                        Value::Size(s) => Some(s.bytes()),
                        _ => None,
                    };
                    let key = param.name.node.as_str();
                    let Some(number) = number else {
                        diagnostics.push(error(
                            ErrorKind::BadDirective,
                            format!("boot parameter `{key}` takes a number or a size"),
                            param.value.span,
                        ));
                        continue;
                    };
                    match key {
                        "memlimit" => {
                            settings.params.insert("memlimit".into(), number.to_string());
                        }
                        "ncpu" => {
                            settings.params.insert("ncpu".into(), number.to_string());
                        }
                        "buffers" if (1..=1 << 20).contains(&number) => {
                            settings.params.insert("dev.buffers".into(), number.to_string());
                        }
                        "mdunits" if (1..=8).contains(&number) => md_units = number,
                        "mdsize" if (512..=1 << 30).contains(&number) => md_size = number,
                        "mdblock" if number.is_power_of_two() && (512..=65536).contains(&number) => {
                            md_block = number
                        }
                        "mdunits" | "mdsize" | "mdblock" | "buffers" => diagnostics.push(error(
                            ErrorKind::BadDirective,
                            format!("boot parameter `{key}` is out of range"),
                            param.value.span,
                        ).with_help("mdunits is 1 to 8, mdsize 512 bytes to 1G, mdblock a power of two from 512 to 64K, buffers 1 to 1M")),
                        _ => diagnostics.push(
                            error(
                                ErrorKind::BadDirective,
                                format!("unknown boot parameter `{key}`"),
                                param.name.span,
                            )
                            .with_help("boot parameters are memlimit, ncpu, buffers, mdunits, mdsize and mdblock"),
                        ),
                    }
                }
            }
            StmtKind::Seeds(n) => settings.seeds = Some(n.node),
            StmtKind::Strategy(strategy) => {
                let (strategy, text) = match &strategy.node {
                    rumpkit_scenario::Strategy::RoundRobin => {
                        (Strategy::RoundRobin, "roundrobin".to_string())
                    }
                    rumpkit_scenario::Strategy::Random => (Strategy::Random, "random".into()),
                    rumpkit_scenario::Strategy::Pct { depth } => {
                        let depth = depth.as_ref().map_or(DEFAULT_PCT_DEPTH, |d| d.node.max(1));
                        (
                            Strategy::Pct {
                                depth,
                                expected_steps: PCT_HORIZON,
                            },
                            format!("pct depth={depth}"),
                        )
                    }
                };
                settings.strategy = strategy;
                settings.strategy_text = text;
            }
            StmtKind::Preempt(p) => {
                use rumpkit_scenario::Preempt as P;
                settings.preemption = match p.node {
                    P::None => Preemption::None,
                    P::Locks => Preemption::Locks,
                    P::All => Preemption::AllHypercalls,
                };
                settings.preempt_text = p.node.keyword();
            }
            StmtKind::Faults(plan) => match FaultPlan::parse(&plan.node) {
                Ok(_) => {
                    if !settings.faults.is_empty() {
                        settings.faults.push_str("; ");
                    }
                    settings.faults.push_str(plan.node.trim());
                }
                Err(e) => diagnostics.push(
                    error(
                        ErrorKind::BadDirective,
                        format!("bad fault plan: {e}"),
                        plan.span,
                    )
                    .with_help("see docs/faults.md for the fault-plan syntax"),
                ),
            },
            StmtKind::ExpectFail => settings.expect_fail = true,
            _ => {}
        }
    }
    for name in &components {
        match name.as_str() {
            "vfs" => settings.factions.push(Faction::Vfs),
            "dev" => settings.factions.push(Faction::Dev),
            "tmpfs" => settings.drivers.push("tmpfs"),
            "md" => settings.drivers.push("md"),
            // The checker already rejected other names.
            _ => {}
        }
    }
    if settings.drivers.contains(&"md") {
        settings
            .params
            .insert("md.units".into(), md_units.to_string());
        for unit in 0..md_units {
            settings
                .block_devices
                .push((format!("md{unit}"), md_size, md_block as u32));
        }
    }
    if diagnostics.is_empty() {
        Ok(settings)
    } else {
        Err(diagnostics)
    }
}

fn component(name: &str) -> Option<&'static dyn Component> {
    match name {
        "tmpfs" => Some(&rumpkit_tmpfs::COMPONENT),
        "md" => Some(&rumpkit_md::COMPONENT),
        _ => None,
    }
}

/// How to run a case besides its seed.
#[derive(Debug, Clone, Default)]
pub struct CaseOptions {
    /// Keep every event for a Perfetto trace.
    pub record_trace: bool,
    /// Replace the script's strategy (to replay a recorded schedule).
    pub strategy: Option<Strategy>,
    /// Print contained panics as they happen.
    pub print_panics: bool,
}

/// Where a case failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// 1-based line of the statement, 0 when the failure has no line (a
    /// deadlock found by the platform).
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// What went wrong.
    pub message: String,
}

/// What one case (one scenario, one seed) did.
#[derive(Debug, Clone)]
pub struct CaseResult {
    /// The scenario's name.
    pub scenario: String,
    /// The seed.
    pub seed: u64,
    /// Whether the case passed (with `expect-fail`: whether it failed).
    pub passed: bool,
    /// The first failure, if the script failed (also for `expect-fail`).
    pub failure: Option<Failure>,
    /// The platform's outcome name (`ok`, `panic`, `deadlock`...).
    pub outcome: String,
    /// The trace hash.
    pub trace_hash: u64,
    /// Scheduling decisions taken.
    pub steps: u64,
    /// Virtual time at the end, in nanoseconds.
    pub virtual_time_ns: u64,
    /// Faults injected.
    pub faults_injected: usize,
    /// One line per statement executed: `thread: call = result`.
    pub log: Vec<String>,
    /// The kernel's console output.
    pub console: String,
    /// The platform's report (schedule, faults, trace).
    pub report: RunReport,
}

impl CaseResult {
    /// The trace, if it was recorded.
    pub fn trace(&self) -> Option<&Trace> {
        self.report.trace.as_ref()
    }
}

/// What a bound name holds.
#[derive(Debug, Clone)]
pub(crate) enum Bound {
    Fd(i32),
    Int(i64),
    Bytes(Vec<u8>),
    /// A structure: bound, but no argument takes one.
    Stat,
}

/// A call's successful result.
#[derive(Debug, Clone)]
pub(crate) enum Res {
    Unit,
    Int(i64),
    Fd(i32),
    Bytes(Vec<u8>),
    Stat(Stat),
}

pub(crate) type Scope = BTreeMap<String, Bound>;

/// What every client thread of a case shares.
struct Cx {
    script: Script,
    platform: Arc<dyn Hypercalls>,
    pid: AtomicU32,
    log: Mutex<Vec<String>>,
    failure: Mutex<Option<Failure>>,
    /// Boot or the creation of the script's process ran out of memory
    /// (where, and the message).
    boot_enomem: Mutex<Option<(Span, String)>>,
}

impl Cx {
    fn position(&self, span: Span) -> (usize, usize) {
        if span == Span::DUMMY {
            return (0, 0);
        }
        rumpkit_scenario::line_col(&self.script.source, span.start)
    }

    fn fail(&self, span: Span, thread: &str, message: String) {
        let (line, column) = self.position(span);
        let mut failure = self.failure.lock().unwrap_or_else(|e| e.into_inner());
        if failure.is_none() {
            let location = if line > 0 {
                format!("{}:{line}:{column}: ", self.script.file_name)
            } else {
                format!("{}: ", self.script.file_name)
            };
            let thread = if thread == "main" {
                String::new()
            } else {
                format!("in thread {thread}: ")
            };
            *failure = Some(Failure {
                line,
                column,
                message: format!("{location}{thread}{message}"),
            });
        }
    }

    fn failed(&self) -> bool {
        self.failure
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_some()
    }

    fn log(&self, line: String) {
        self.log
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(line);
    }
}

/// Runs `scenario` for `seed` on a fresh simulation and kernel.
pub fn run_case(scenario: &Scenario, seed: u64, options: &CaseOptions) -> CaseResult {
    let mut config = scenario.sim_config(seed);
    config.record_trace = options.record_trace;
    config.print_panics = options.print_panics;
    if let Some(strategy) = &options.strategy {
        config.strategy = strategy.clone();
    }
    let mut sim = Sim::new(config);
    let platform = sim.hypercalls();
    let cx = Arc::new(Cx {
        script: scenario.script.clone(),
        platform: platform.clone(),
        pid: AtomicU32::new(0),
        log: Mutex::new(Vec::new()),
        failure: Mutex::new(None),
        boot_enomem: Mutex::new(None),
    });
    let main_cx = cx.clone();
    let settings = scenario.settings.clone();
    sim.spawn("main", move || run_main(main_cx, &settings));
    let report = sim.run();
    // A boot that ran out of memory because the fault plan refused an
    // allocation is a legitimate outcome (there is nothing to run); without
    // an injected allocation fault it is a failure.
    let boot_enomem = cx
        .boot_enomem
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .take();
    if let Some((span, message)) = boot_enomem {
        if report.faults_injected.iter().any(|f| f.class == "alloc") {
            cx.log("main: set-up refused by an injected allocation fault; nothing else ran".into());
        } else {
            cx.fail(span, "main", message);
        }
    }
    let mut failure = cx.failure.lock().unwrap_or_else(|e| e.into_inner()).clone();
    if failure.is_none() && report.outcome.is_failure() {
        failure = Some(Failure {
            line: 0,
            column: 0,
            message: format!("{}: {}", scenario.file_name, describe_outcome(&report)),
        });
    }
    let log = std::mem::take(&mut *cx.log.lock().unwrap_or_else(|e| e.into_inner()));
    CaseResult {
        scenario: scenario.name.clone(),
        seed,
        passed: failure.is_some() == scenario.settings.expect_fail,
        failure,
        outcome: report.outcome.name().to_string(),
        trace_hash: report.trace_hash,
        steps: report.steps,
        virtual_time_ns: report.virtual_time_ns,
        faults_injected: report.faults_injected.len(),
        log,
        console: report.console_text(),
        report,
    }
}

fn describe_outcome(report: &RunReport) -> String {
    match &report.outcome {
        Outcome::Leak { leaks } => {
            let mut text = String::from("kernel memory leaked:");
            for leak in leaks {
                let _ = write!(text, "\n    {leak:?}");
            }
            text
        }
        outcome => format!("the platform ended the run: {outcome}"),
    }
}

/// The `main` client thread: boot, run the script, halt.
fn run_main(cx: Arc<Cx>, settings: &Settings) {
    let components: Vec<&'static dyn Component> = settings
        .drivers
        .iter()
        .filter_map(|d| component(d))
        .collect();
    let boot_span = cx
        .script
        .stmts
        .iter()
        .find(|s| matches!(s.kind, StmtKind::Boot { .. }))
        .map_or(Span::DUMMY, |s| s.span);
    let config = BootConfig {
        factions: &settings.factions,
        components: &components,
        memory_limit_bytes: None,
    };
    let kernel = match Kernel::boot(cx.platform.clone(), &config) {
        Ok(kernel) => kernel,
        Err(e) => {
            let message = format!("boot failed: {e}");
            if matches!(
                e,
                BootError::Init {
                    errno: Errno::ENOMEM,
                    ..
                }
            ) {
                // Legitimate when the fault plan refused the allocation;
                // `run_case` decides once it knows what was injected.
                cx.log(format!("main: boot = ENOMEM ({e})"));
                *cx.boot_enomem.lock().unwrap_or_else(|p| p.into_inner()) =
                    Some((boot_span, message));
            } else {
                cx.fail(boot_span, "main", message);
            }
            return;
        }
    };
    let pid = match kernel.proc_create() {
        Ok(pid) => pid,
        Err(e) => {
            let message = format!("creating the process failed: {e}");
            if e == Errno::ENOMEM {
                cx.log("main: proc_create = ENOMEM".into());
                *cx.boot_enomem.lock().unwrap_or_else(|p| p.into_inner()) =
                    Some((boot_span, message));
            } else {
                cx.fail(boot_span, "main", message);
            }
            return halt(&cx, kernel, None, boot_span);
        }
    };
    cx.pid.store(pid.0, Ordering::Relaxed);
    let mut scope = Scope::new();
    let stmts = cx.script.stmts.clone();
    let mut halt_span = Span::DUMMY;
    for stmt in &stmts {
        if cx.failed() {
            break;
        }
        match &stmt.kind {
            StmtKind::Halt => {
                halt_span = stmt.span;
                break;
            }
            StmtKind::Threads(threads) => run_threads(&cx, &kernel, threads, &scope),
            _ => exec_stmt(&cx, &kernel, stmt, &mut scope, "main"),
        }
    }
    drop(scope);
    halt(&cx, kernel, Some(pid), halt_span);
}

fn halt(cx: &Cx, kernel: Arc<Kernel>, pid: Option<Pid>, span: Span) {
    if let Some(pid) = pid {
        if let Err(e) = kernel.proc_destroy(pid) {
            cx.fail(span, "main", format!("destroying the process failed: {e}"));
        }
    }
    match kernel.halt() {
        Ok(report) if report.leaked() => cx.fail(
            span,
            "main",
            format!(
                "kernel memory leaked at halt: {} bytes in {} allocations",
                report.memory.used_bytes, report.memory.outstanding_allocations
            ),
        ),
        Ok(_) => cx.log("main: halt = ok".into()),
        Err(e) => cx.fail(span, "main", format!("halt failed: {e:?}")),
    }
}

fn run_threads(
    cx: &Arc<Cx>,
    kernel: &Arc<Kernel>,
    threads: &[rumpkit_scenario::Thread],
    scope: &Scope,
) {
    let mut started = Vec::new();
    for thread in threads {
        let thread_cx = cx.clone();
        let thread_kernel = kernel.clone();
        let mut thread_scope = scope.clone();
        let body = thread.body.clone();
        let name = thread.name.node.clone();
        let entry_name = name.clone();
        let entry = Box::new(move || {
            for stmt in &body {
                if thread_cx.failed() {
                    break;
                }
                exec_stmt(
                    &thread_cx,
                    &thread_kernel,
                    stmt,
                    &mut thread_scope,
                    &entry_name,
                );
            }
        });
        match cx.platform.thread_create(&name, entry) {
            Ok(id) => started.push(id),
            Err(e) => {
                cx.fail(
                    thread.span,
                    "main",
                    format!("could not create client thread `{name}`: {e:?}"),
                );
                break;
            }
        }
    }
    for id in started {
        cx.platform.thread_join(id);
    }
}

fn exec_stmt(cx: &Cx, kernel: &Kernel, stmt: &Stmt, scope: &mut Scope, thread: &str) {
    match &stmt.kind {
        StmtKind::Sleep(duration) => {
            let now = cx.platform.clock_monotonic_ns();
            cx.platform
                .sleep_until(now.saturating_add(duration.node.nanos()));
            cx.log(format!("{thread}: sleep {}", statement_text(stmt)));
        }
        StmtKind::Call(call) => exec_call(cx, kernel, stmt, call, scope, thread),
        // Directives take effect before the kernel boots; `halt` and
        // `threads` are handled by the caller.
        _ => {}
    }
}

fn statement_text(stmt: &Stmt) -> String {
    let text = rumpkit_scenario::print_stmts(std::slice::from_ref(stmt));
    text.trim_end().trim_start_matches("sleep ").to_string()
}

pub(crate) fn call_text(call: &Call) -> String {
    let mut call = call.clone();
    call.expect = None;
    let stmt = Stmt {
        kind: StmtKind::Call(call),
        span: Span::DUMMY,
    };
    rumpkit_scenario::print_stmts(&[stmt])
        .trim_end()
        .to_string()
}

fn exec_call(cx: &Cx, kernel: &Kernel, stmt: &Stmt, call: &Call, scope: &mut Scope, thread: &str) {
    let text = call_text(call);
    let result = match eval_args(call, scope) {
        Ok(args) => do_call(cx, kernel, &call.name.node, &args),
        Err(message) => {
            cx.fail(stmt.span, thread, format!("`{text}`: {message}"));
            return;
        }
    };
    let shown = show(&result);
    cx.log(format!("{thread}: {text} = {shown}"));
    let expected = match &call.expect {
        None => result.is_ok(),
        Some(expect) => expect.alts.iter().any(|alt| matches(&alt.node, &result)),
    };
    if !expected {
        let wanted = match &call.expect {
            None => "success".to_string(),
            Some(_) => {
                let full = rumpkit_scenario::print_stmts(std::slice::from_ref(stmt));
                full.split_once(" -> ")
                    .map_or(String::new(), |(_, alts)| alts.trim_end().to_string())
            }
        };
        cx.fail(
            stmt.span,
            thread,
            format!("`{text}` returned {shown}, expected {wanted}"),
        );
        return;
    }
    let Some(bind) = &call.bind else { return };
    let bound = match result {
        Ok(Res::Unit) => return,
        Ok(Res::Int(n)) => Bound::Int(n),
        Ok(Res::Fd(fd)) => Bound::Fd(fd),
        Ok(Res::Bytes(bytes)) => Bound::Bytes(bytes),
        Ok(Res::Stat(_)) => Bound::Stat,
        // A call that failed as allowed binds what C code would hold: -1
        // (so a later call on the descriptor gets EBADF), or no bytes.
        Err(_) => match KernelTable.signature(&call.name.node).map(|s| s.result) {
            Some(ResultKind::Fd) => Bound::Fd(-1),
            Some(ResultKind::Int) => Bound::Int(-1),
            Some(ResultKind::Bytes) => Bound::Bytes(Vec::new()),
            _ => return,
        },
    };
    scope.insert(bind.node.clone(), bound);
}

/// An evaluated argument.
#[derive(Debug, Clone)]
pub(crate) enum ArgVal {
    Int(i64),
    Bytes(Vec<u8>),
    Word(String),
}

impl ArgVal {
    pub(crate) fn int(&self) -> i64 {
        match self {
            ArgVal::Int(n) => *n,
            _ => 0,
        }
    }

    pub(crate) fn bytes(&self) -> &[u8] {
        match self {
            ArgVal::Bytes(b) => b,
            ArgVal::Word(w) => w.as_bytes(),
            ArgVal::Int(_) => &[],
        }
    }

    /// A descriptor: integers that do not fit an `int` become -1, which the
    /// kernel answers with `EBADF` as Linux does.
    pub(crate) fn fd(&self) -> i32 {
        i32::try_from(self.int()).unwrap_or(-1)
    }
}

pub(crate) fn flag_value(terms: &[rumpkit_scenario::Spanned<FlagTerm>]) -> Result<i64, String> {
    let mut value = 0i64;
    for term in terms {
        value |= match &term.node {
            FlagTerm::Const(name) => KernelTable
                .resolve_const(name)
                .ok_or_else(|| format!("unknown constant `{name}`"))?,
            FlagTerm::Int(i) => i.value,
        };
    }
    Ok(value)
}

pub(crate) fn eval_args(call: &Call, scope: &Scope) -> Result<Vec<ArgVal>, String> {
    let signature = KernelTable
        .signature(&call.name.node)
        .ok_or_else(|| format!("unknown system call `{}`", call.name.node))?;
    let mut args = Vec::with_capacity(call.args.len());
    for (arg, kind) in call.args.iter().zip(signature.params.iter()) {
        let value = match (&arg.node, kind) {
            (Value::Name(word), ArgKind::Name) => ArgVal::Word(word.clone()),
            (Value::Name(name), _) => match scope.get(name) {
                Some(Bound::Fd(fd)) => ArgVal::Int(i64::from(*fd)),
                Some(Bound::Int(n)) => ArgVal::Int(*n),
                Some(Bound::Bytes(b)) => ArgVal::Bytes(b.clone()),
                Some(Bound::Stat) => {
                    return Err(format!("`{name}` holds a structure, not {}", kind.describe()))
                }
                None => {
                    return Err(format!(
                        "`{name}` has no value (the call that binds it failed or ran in another thread)"
                    ))
                }
            },
            (Value::Int(i), _) => ArgVal::Int(i.value),
            (Value::Size(s), _) => ArgVal::Int(s.bytes() as i64),
            (Value::Duration(d), _) => ArgVal::Int(d.nanos() as i64),
            (Value::Str(bytes), _) => ArgVal::Bytes(bytes.clone()),
            (Value::Flags(terms), _) => ArgVal::Int(flag_value(terms)?),
        };
        args.push(value);
    }
    Ok(args)
}

pub(crate) fn arg(args: &[ArgVal], index: usize) -> ArgVal {
    args.get(index).cloned().unwrap_or(ArgVal::Int(0))
}

fn buffer(len: i64) -> KResult<Vec<u8>> {
    if len < 0 {
        return Err(Errno::EINVAL);
    }
    Ok(vec![0; (len as usize).min(READ_MAX)])
}

/// Names in a buffer of `linux_dirent64` records, `.` and `..` left out.
fn dirent_names(buf: &[u8], names: &mut Vec<Vec<u8>>) {
    let mut at = 0;
    while at + 19 <= buf.len() {
        let reclen = u16::from_le_bytes([buf[at + 16], buf[at + 17]]) as usize;
        if reclen < 19 || at + reclen > buf.len() {
            break;
        }
        let name = &buf[at + 19..at + reclen];
        let name = &name[..name.iter().position(|&b| b == 0).unwrap_or(name.len())];
        if name != b"." && name != b".." {
            names.push(name.to_vec());
        }
        at += reclen;
    }
}

fn read_dir(kernel: &Kernel, pid: Pid, fd: i32) -> KResult<Vec<Vec<u8>>> {
    let sys = kernel.sys(pid);
    let mut names = Vec::new();
    let mut buf = vec![0u8; 4096];
    loop {
        let n = sys.getdents(fd, &mut buf)?;
        if n == 0 {
            return Ok(names);
        }
        dirent_names(&buf[..n], &mut names);
    }
}

pub(crate) fn join_names(names: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    for name in names {
        out.extend_from_slice(name);
        out.push(b'\n');
    }
    out
}

fn do_call(cx: &Cx, kernel: &Kernel, name: &str, args: &[ArgVal]) -> KResult<Res> {
    let pid = Pid(cx.pid.load(Ordering::Relaxed));
    let sys = kernel.sys(pid);
    let a = |i| arg(args, i);
    let u32_of = |i| a(i).int() as u32;
    Ok(match name {
        "open" => Res::Fd(sys.open(a(0).bytes(), u32_of(1), u32_of(2))?),
        "close" => sys.close(a(0).fd()).map(|()| Res::Unit)?,
        "read" => {
            let mut buf = buffer(a(1).int())?;
            let n = sys.read(a(0).fd(), &mut buf)?;
            buf.truncate(n);
            Res::Bytes(buf)
        }
        "write" => Res::Int(sys.write(a(0).fd(), a(1).bytes())? as i64),
        "pread" => {
            let mut buf = buffer(a(1).int())?;
            let n = sys.pread(a(0).fd(), &mut buf, a(2).int())?;
            buf.truncate(n);
            Res::Bytes(buf)
        }
        "pwrite" => Res::Int(sys.pwrite(a(0).fd(), a(1).bytes(), a(2).int())? as i64),
        "lseek" => Res::Int(sys.lseek(a(0).fd(), a(1).int(), u32_of(2))? as i64),
        "fsync" => sys.fsync(a(0).fd()).map(|()| Res::Unit)?,
        "ftruncate" => sys.ftruncate(a(0).fd(), a(1).int()).map(|()| Res::Unit)?,
        "truncate" => sys.truncate(a(0).bytes(), a(1).int()).map(|()| Res::Unit)?,
        "stat" => Res::Stat(sys.stat(a(0).bytes())?),
        "lstat" => Res::Stat(sys.lstat(a(0).bytes())?),
        "fstat" => Res::Stat(sys.fstat(a(0).fd())?),
        "mkdir" => {
            let mode = if args.len() > 1 { u32_of(1) } else { 0o777 };
            sys.mkdir(a(0).bytes(), mode)?;
            Res::Unit
        }
        "rmdir" => sys.rmdir(a(0).bytes()).map(|()| Res::Unit)?,
        "unlink" => sys.unlink(a(0).bytes()).map(|()| Res::Unit)?,
        "rename" => sys.rename(a(0).bytes(), a(1).bytes()).map(|()| Res::Unit)?,
        "link" => sys.link(a(0).bytes(), a(1).bytes()).map(|()| Res::Unit)?,
        "symlink" => sys
            .symlink(a(0).bytes(), a(1).bytes())
            .map(|()| Res::Unit)?,
        "readlink" => {
            let mut buf = vec![0u8; 4096];
            let n = sys.readlink(a(0).bytes(), &mut buf)?;
            buf.truncate(n);
            Res::Bytes(buf)
        }
        "getdents" => Res::Bytes(join_names(&read_dir(kernel, pid, a(0).fd())?)),
        "readdir" => {
            let fd = sys.open(a(0).bytes(), abi::O_RDONLY | abi::O_DIRECTORY, 0)?;
            let names = read_dir(kernel, pid, fd);
            let closed = sys.close(fd);
            let mut names = names?;
            closed?;
            names.sort();
            Res::Bytes(join_names(&names))
        }
        "chmod" => sys.chmod(a(0).bytes(), u32_of(1)).map(|()| Res::Unit)?,
        "dup" => Res::Fd(sys.dup(a(0).fd())?),
        "mount" => {
            let source = if args.len() > 3 {
                a(3).bytes().to_vec()
            } else {
                Vec::new()
            };
            sys.mount(a(0).bytes(), a(1).bytes(), u32_of(2), &source)?;
            Res::Unit
        }
        "unmount" => sys.unmount(a(0).bytes(), u32_of(1)).map(|()| Res::Unit)?,
        "sync" => sys.sync().map(|()| Res::Unit)?,
        "nanosleep" => {
            let now = cx.platform.clock_monotonic_ns();
            cx.platform
                .sleep_until(now.saturating_add(a(0).int().max(0) as u64));
            Res::Unit
        }
        _ => return Err(Errno::ENOSYS),
    })
}

/// Bytes as a script string literal, shortened past 64 bytes.
pub fn quote(bytes: &[u8]) -> String {
    let shown = &bytes[..bytes.len().min(64)];
    let mut out = rumpkit_scenario::quote(shown);
    if bytes.len() > shown.len() {
        let _ = write!(out, "... ({} bytes)", bytes.len());
    }
    out
}

pub(crate) fn type_name(mode: u32) -> &'static str {
    match mode & abi::S_IFMT {
        abi::S_IFREG => "reg",
        abi::S_IFDIR => "dir",
        abi::S_IFLNK => "lnk",
        abi::S_IFBLK => "blk",
        abi::S_IFCHR => "chr",
        0o010000 => "fifo",
        0o140000 => "sock",
        _ => "unknown",
    }
}

fn show_stat(st: &Stat) -> String {
    format!(
        "size={} type={} mode=0o{:o} nlink={}",
        st.size,
        type_name(st.mode),
        st.mode & 0o7777,
        st.nlink
    )
}

pub(crate) fn show(result: &KResult<Res>) -> String {
    match result {
        Ok(Res::Unit) => "ok".into(),
        Ok(Res::Int(n)) => n.to_string(),
        Ok(Res::Fd(fd)) => format!("fd {fd}"),
        Ok(Res::Bytes(bytes)) => quote(bytes),
        Ok(Res::Stat(st)) => show_stat(st),
        Err(e) => e.name().to_string(),
    }
}

fn value_int(value: &Value) -> Option<i64> {
    match value {
        Value::Int(i) => Some(i.value),
        Value::Size(s) => Some(s.bytes() as i64),
        Value::Flags(terms) => flag_value(terms).ok(),
        _ => None,
    }
}

fn field_matches(st: &Stat, name: &str, value: &Value) -> bool {
    let int = value_int(value);
    match name {
        "size" => int == Some(st.size),
        "type" => match value {
            Value::Name(word) => type_name(st.mode) == word,
            _ => int.is_some_and(|t| i64::from(st.mode & abi::S_IFMT) == t),
        },
        "mode" => int.is_some_and(|m| {
            if m & i64::from(abi::S_IFMT) != 0 && m & 0o7777 == 0 {
                i64::from(st.mode & abi::S_IFMT) == m
            } else if m & i64::from(abi::S_IFMT) != 0 {
                i64::from(st.mode) == m
            } else {
                i64::from(st.mode & 0o7777) == m
            }
        }),
        "nlink" => int == Some(i64::from(st.nlink)),
        "ino" => int == Some(st.ino as i64),
        "dev" => int == Some(st.dev as i64),
        "blocks" => int == Some(st.blocks),
        "rdev" => int == Some(st.rdev as i64),
        _ => false,
    }
}

pub(crate) fn matches(alt: &ExpectAlt, result: &KResult<Res>) -> bool {
    match (alt, result) {
        (ExpectAlt::Any, _) => true,
        (ExpectAlt::Ok, r) => r.is_ok(),
        (ExpectAlt::Errno(name), Err(e)) => e.name() == name,
        (ExpectAlt::Value(Value::Str(want)), Ok(Res::Bytes(got))) => want == got,
        (ExpectAlt::Value(v), Ok(Res::Int(n))) => value_int(v) == Some(*n),
        (ExpectAlt::Value(v), Ok(Res::Fd(fd))) => value_int(v) == Some(i64::from(*fd)),
        (ExpectAlt::Fields(fields), Ok(Res::Stat(st))) => fields
            .iter()
            .all(|f| field_matches(st, &f.name.node, &f.value.node)),
        _ => false,
    }
}
