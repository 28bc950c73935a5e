//! What a run ends with: the outcome, the schedule that replays it, the
//! faults it injected, what it leaked, what it printed.

use core::fmt;

use rumpkit_hypercall::RwMode;

use crate::sched::Strategy;
use crate::trace::Trace;

/// Why a run was stopped as a livelock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LivelockReason {
    /// More scheduling decisions than `SimConfig::step_budget`.
    StepBudget,
    /// Virtual time would pass `SimConfig::time_budget_ns`.
    TimeBudget,
}

/// Outstanding allocations of one site at the end of a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeakSite {
    /// The `site` passed to `mem_alloc`.
    pub site: &'static str,
    /// How many allocations are outstanding.
    pub count: u64,
    /// How many bytes they hold.
    pub bytes: u64,
}

/// What one blocked thread waits for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WaitTarget {
    /// A mutex and the thread holding it.
    Mutex {
        /// The mutex's name.
        name: &'static str,
        /// The holder (creation index and name), if any.
        holder: Option<(u32, String)>,
    },
    /// A reader-writer lock and the threads holding it.
    RwLock {
        /// The lock's name.
        name: &'static str,
        /// The mode asked for.
        mode: RwMode,
        /// The holders.
        holders: Vec<(u32, String)>,
    },
    /// A condition variable nobody will signal.
    Condvar {
        /// The condition variable's name.
        name: &'static str,
        /// The mutex it was waited on with.
        mutex: &'static str,
    },
    /// The end of a thread.
    Join {
        /// The joined thread.
        thread: (u32, String),
    },
}

/// One edge of the wait-for graph.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaitEdge {
    /// The waiting thread (creation index).
    pub thread: u32,
    /// Its name.
    pub name: String,
    /// What it waits for.
    pub target: WaitTarget,
}

/// The wait-for graph at a deadlock: every live thread and what it waits for.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WaitForGraph {
    /// One edge per blocked thread, by creation index.
    pub edges: Vec<WaitEdge>,
}

impl WaitForGraph {
    /// The threads that `thread` waits for.
    fn successors(&self, thread: u32) -> Vec<u32> {
        let Some(edge) = self.edges.iter().find(|e| e.thread == thread) else {
            return Vec::new();
        };
        match &edge.target {
            WaitTarget::Mutex { holder, .. } => holder.iter().map(|h| h.0).collect(),
            WaitTarget::RwLock { holders, .. } => holders.iter().map(|h| h.0).collect(),
            WaitTarget::Condvar { .. } => Vec::new(),
            WaitTarget::Join { thread } => vec![thread.0],
        }
    }

    /// A cycle of threads waiting for each other, if there is one (the
    /// first found from the oldest thread).
    pub fn cycle(&self) -> Option<Vec<u32>> {
        for start in self.edges.iter().map(|e| e.thread) {
            let mut path = vec![start];
            let mut current = start;
            // Follow the first successor; a cycle shows within n steps.
            for _ in 0..=self.edges.len() {
                let Some(&next) = self.successors(current).first() else {
                    break;
                };
                if let Some(position) = path.iter().position(|&t| t == next) {
                    return Some(path[position..].to_vec());
                }
                path.push(next);
                current = next;
            }
        }
        None
    }

    fn name_of(&self, thread: u32) -> &str {
        self.edges
            .iter()
            .find(|e| e.thread == thread)
            .map_or("?", |e| e.name.as_str())
    }
}

impl fmt::Display for WaitForGraph {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for edge in &self.edges {
            write!(f, "thread '{}' (#{}) waits for ", edge.name, edge.thread)?;
            match &edge.target {
                WaitTarget::Mutex { name, holder } => {
                    write!(f, "mutex '{name}'")?;
                    match holder {
                        Some((id, holder)) => writeln!(f, " held by thread '{holder}' (#{id})")?,
                        None => writeln!(f, " (free)")?,
                    }
                }
                WaitTarget::RwLock {
                    name,
                    mode,
                    holders,
                } => {
                    let mode = if *mode == RwMode::Read {
                        "read"
                    } else {
                        "write"
                    };
                    write!(f, "rwlock '{name}' ({mode})")?;
                    if holders.is_empty() {
                        writeln!(f, " (free)")?;
                    } else {
                        let names: Vec<String> = holders
                            .iter()
                            .map(|(id, name)| format!("'{name}' (#{id})"))
                            .collect();
                        writeln!(f, " held by {}", names.join(", "))?;
                    }
                }
                WaitTarget::Condvar { name, mutex } => writeln!(
                    f,
                    "condvar '{name}' (with mutex '{mutex}'), which no runnable thread can signal"
                )?,
                WaitTarget::Join { thread: (id, name) } => {
                    writeln!(f, "the end of thread '{name}' (#{id})")?
                }
            }
        }
        if let Some(cycle) = self.cycle() {
            let names: Vec<String> = cycle
                .iter()
                .chain(cycle.first())
                .map(|&t| format!("'{}'", self.name_of(t)))
                .collect();
            writeln!(f, "cycle: {}", names.join(" -> "))?;
        }
        Ok(())
    }
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Every thread ended; nothing leaked (or leak detection was off).
    Ok,
    /// The kernel called `exit`.
    Exit {
        /// The status it gave.
        status: i32,
    },
    /// A thread panicked (a Rust panic in kernel, driver or test code).
    Panic {
        /// The thread's name.
        thread: String,
        /// The panic message (and location, when known).
        message: String,
    },
    /// The kernel called the `panic` hypercall.
    KernelPanic {
        /// The calling thread's name.
        thread: String,
        /// The kernel's message.
        message: String,
    },
    /// Every live thread blocked and nothing (timer, I/O) could wake one.
    Deadlock {
        /// Who waits for what.
        graph: WaitForGraph,
    },
    /// A budget ran out.
    Livelock {
        /// Which budget.
        reason: LivelockReason,
        /// Decisions taken.
        steps: u64,
        /// Virtual time reached.
        virtual_time_ns: u64,
    },
    /// The threads ended but kernel memory is still allocated.
    Leak {
        /// Outstanding allocations by site, sorted by site.
        leaks: Vec<LeakSite>,
    },
    /// A replay could not follow its record.
    ReplayDiverged {
        /// The decision at which it diverged.
        step: u64,
        /// What went wrong.
        detail: String,
    },
    /// The run reached `SimConfig::power_cut_ns`; the durable images are
    /// what survived.
    PowerCut {
        /// When the power went.
        at_ns: u64,
    },
}

impl Outcome {
    /// Whether the outcome is a finding (anything but `Ok`, `Exit { 0 }` and
    /// `PowerCut`).
    pub fn is_failure(&self) -> bool {
        !matches!(
            self,
            Outcome::Ok | Outcome::Exit { status: 0 } | Outcome::PowerCut { .. }
        )
    }

    /// A short name ("ok", "panic", "deadlock", ...).
    pub fn name(&self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Exit { .. } => "exit",
            Outcome::Panic { .. } => "panic",
            Outcome::KernelPanic { .. } => "kernel-panic",
            Outcome::Deadlock { .. } => "deadlock",
            Outcome::Livelock { .. } => "livelock",
            Outcome::Leak { .. } => "leak",
            Outcome::ReplayDiverged { .. } => "replay-diverged",
            Outcome::PowerCut { .. } => "power-cut",
        }
    }

    pub(crate) fn code(&self) -> u64 {
        match self {
            Outcome::Ok => 0,
            Outcome::Exit { status } => 0x100 | u64::from(*status as u32),
            Outcome::Panic { .. } => 2,
            Outcome::KernelPanic { .. } => 3,
            Outcome::Deadlock { .. } => 4,
            Outcome::Livelock { .. } => 5,
            Outcome::Leak { .. } => 6,
            Outcome::ReplayDiverged { .. } => 7,
            Outcome::PowerCut { .. } => 8,
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Ok => write!(f, "ok"),
            Outcome::Exit { status } => write!(f, "exit with status {status}"),
            Outcome::Panic { thread, message } => {
                write!(f, "panic in thread '{thread}': {message}")
            }
            Outcome::KernelPanic { thread, message } => {
                write!(f, "kernel panic in thread '{thread}': {message}")
            }
            Outcome::Deadlock { graph } => write!(f, "deadlock:\n{graph}"),
            Outcome::Livelock {
                reason,
                steps,
                virtual_time_ns,
            } => {
                let why = match reason {
                    LivelockReason::StepBudget => "step budget exhausted",
                    LivelockReason::TimeBudget => "virtual-time budget exhausted",
                };
                write!(
                    f,
                    "livelock ({why}) after {steps} steps at {virtual_time_ns} ns"
                )
            }
            Outcome::Leak { leaks } => {
                write!(f, "leaked kernel memory:")?;
                for leak in leaks {
                    write!(
                        f,
                        "\n  {}: {} allocations, {} bytes",
                        leak.site, leak.count, leak.bytes
                    )?;
                }
                Ok(())
            }
            Outcome::ReplayDiverged { step, detail } => {
                write!(f, "replay diverged at decision {step}: {detail}")
            }
            Outcome::PowerCut { at_ns } => write!(f, "power cut at {at_ns} ns"),
        }
    }
}

/// One injected fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaultRecord {
    /// Virtual time.
    pub time_ns: u64,
    /// Decisions taken before it.
    pub step: u64,
    /// The thread it hit (creation index), if any.
    pub thread: Option<u32>,
    /// The index of the fault-plan rule that caused it.
    pub rule: usize,
    /// Fault class: alloc, thread, bio, clock.
    pub class: &'static str,
    /// What happened, for people.
    pub detail: String,
}

impl fmt::Display for FaultRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "[{} ns, step {}] rule {} ({}): {}",
            self.time_ns, self.step, self.rule, self.class, self.detail
        )
    }
}

/// Everything a run tells.
#[derive(Debug, Clone)]
pub struct RunReport {
    /// The seed the run used.
    pub seed: u64,
    /// How it ended.
    pub outcome: Outcome,
    /// A stable hash over every decision and hypercall event: the same seed
    /// and configuration give the same hash, in debug and release.
    pub trace_hash: u64,
    /// Scheduling decisions taken.
    pub steps: u64,
    /// Virtual time at the end.
    pub virtual_time_ns: u64,
    /// The schedule: the thread picked at each decision, by creation index.
    /// `Strategy::Replay(decisions)` replays the run.
    pub decisions: Vec<u32>,
    /// Every injected fault, in order.
    pub faults_injected: Vec<FaultRecord>,
    /// Everything written with `console_write`.
    pub console: Vec<u8>,
    /// Outstanding kernel allocations at the end, by site (also when the
    /// outcome is not `Leak`).
    pub leaks: Vec<LeakSite>,
    /// How many threads the run created (client, kernel and completion).
    pub threads_created: u32,
    /// The events, when `SimConfig::record_trace` was set.
    pub trace: Option<Trace>,
}

impl RunReport {
    /// Whether the run found nothing.
    pub fn is_success(&self) -> bool {
        !self.outcome.is_failure()
    }

    /// The strategy that replays this run.
    pub fn replay_strategy(&self) -> Strategy {
        Strategy::Replay(self.decisions.clone())
    }

    /// The console output as text (lossy for non-UTF-8 bytes).
    pub fn console_text(&self) -> String {
        String::from_utf8_lossy(&self.console).into_owned()
    }
}
