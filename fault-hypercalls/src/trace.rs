//! The run trace: a stable 64-bit hash over every decision and hypercall
//! event, and (optionally) the events themselves with a Chrome trace-event
//! JSON export that Perfetto and `chrome://tracing` open.
//!
//! The hash only ever sees values that are the same on every host and in
//! every build: thread creation indices, lock and condition-variable creation
//! indices, virtual times, sizes, names and fault decisions. Never an address,
//! never a host time.

use rumpkit_hypercall::{BioOp, RwMode};
use serde_json::{json, Value};

use crate::rng::mix64;

/// Event tags mixed into the hash.
pub(crate) mod tag {
    pub const DECISION: u64 = 1;
    pub const SPAWN: u64 = 2;
    pub const EXIT: u64 = 3;
    pub const ALLOC: u64 = 4;
    pub const FREE: u64 = 5;
    pub const MUTEX: u64 = 6;
    pub const RWLOCK: u64 = 7;
    pub const CONDVAR: u64 = 8;
    pub const WAIT: u64 = 9;
    pub const WAKE: u64 = 10;
    pub const TIME: u64 = 11;
    pub const BIO: u64 = 12;
    pub const FAULT: u64 = 13;
    pub const CONSOLE: u64 = 14;
    pub const KERNEL: u64 = 15;
    pub const RANDOM: u64 = 16;
    pub const CLOCK: u64 = 17;
    pub const END: u64 = 18;
}

/// What a thread waits for, as shown in the trace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WaitWhat {
    /// A mutex, by name.
    Mutex(&'static str),
    /// A reader-writer lock, by name, and the mode asked for.
    RwLock(&'static str, RwMode),
    /// A condition variable, by name.
    Condvar(&'static str),
    /// A sleep until this virtual time.
    Sleep(u64),
    /// The end of another thread (creation index).
    Join(u32),
}

/// One recorded event.
#[derive(Debug, Clone, PartialEq)]
pub enum EventKind {
    /// A thread was created.
    ThreadStart {
        /// Its name.
        name: String,
    },
    /// A thread ended.
    ThreadEnd,
    /// The thread starts waiting.
    WaitBegin(WaitWhat),
    /// The thread stops waiting (it runs again).
    WaitEnd {
        /// A timed wait gave up.
        timed_out: bool,
    },
    /// A block request was submitted.
    BioSubmit {
        /// Request number, unique within the run.
        id: u64,
        /// Device name.
        dev: String,
        /// Operation.
        op: BioOp,
        /// Byte offset.
        offset: u64,
        /// Byte length.
        len: usize,
    },
    /// A block request completed (its completion thread runs).
    BioComplete {
        /// Request number.
        id: u64,
        /// The result was `Ok`.
        ok: bool,
    },
    /// A fault was injected.
    Fault {
        /// Fault class (alloc, thread, bio, clock).
        class: &'static str,
        /// What happened.
        detail: String,
    },
    /// `KernelEvent::SyscallEnter`.
    SyscallEnter(String),
    /// `KernelEvent::SyscallExit`.
    SyscallExit(String, i64),
    /// `KernelEvent::Mark`.
    Mark(String, String),
    /// Virtual time moved forward (nothing was runnable).
    TimeAdvance,
}

/// One event: when, on which thread (creation index; `None` for the
/// simulator itself), what.
#[derive(Debug, Clone, PartialEq)]
pub struct TraceEvent {
    /// Virtual time in nanoseconds.
    pub time_ns: u64,
    /// Scheduling decisions taken before the event.
    pub step: u64,
    /// The thread, or `None` for the simulator.
    pub thread: Option<u32>,
    /// What happened.
    pub kind: EventKind,
}

/// The recorded events of a run (when `SimConfig::record_trace` is set).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Trace {
    /// Thread names, by creation index.
    pub threads: Vec<String>,
    /// Events in the order they happened.
    pub events: Vec<TraceEvent>,
    /// The seed of the run, for the export's process name.
    pub seed: u64,
}

/// The hash state and, when recording, the event list.
#[derive(Debug)]
pub(crate) struct Recorder {
    hash: u64,
    pub(crate) events: Option<Vec<TraceEvent>>,
}

const MULTIPLIER: u64 = 0x9e37_79b9_7f4a_7c15;

impl Recorder {
    pub(crate) fn new(record: bool) -> Recorder {
        Recorder {
            hash: 0x7261_6d70_6b69_7421,
            events: record.then(Vec::new),
        }
    }

    /// Mixes one word into the hash.
    #[inline]
    pub(crate) fn word(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(23) ^ word).wrapping_mul(MULTIPLIER);
    }

    /// Mixes an event: its tag, the thread and two operands.
    #[inline]
    pub(crate) fn event(&mut self, tag: u64, thread: u32, a: u64, b: u64) {
        self.word((tag << 56) ^ (u64::from(thread) << 24) ^ a);
        self.word(b);
    }

    /// Mixes a string (its length and bytes).
    pub(crate) fn bytes(&mut self, bytes: &[u8]) {
        self.word(bytes.len() as u64);
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            self.word(u64::from_le_bytes(chunk.try_into().expect("chunk of 8")));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut last = [0u8; 8];
            last[..rest.len()].copy_from_slice(rest);
            self.word(u64::from_le_bytes(last));
        }
    }

    #[inline]
    pub(crate) fn recording(&self) -> bool {
        self.events.is_some()
    }

    pub(crate) fn push(&mut self, event: TraceEvent) {
        if let Some(events) = &mut self.events {
            events.push(event);
        }
    }

    /// The final hash value (the running state passed through a finaliser).
    pub(crate) fn finish(&self) -> u64 {
        mix64(self.hash)
    }
}

fn op_name(op: BioOp) -> &'static str {
    match op {
        BioOp::Read => "read",
        BioOp::Write => "write",
        BioOp::Flush => "flush",
    }
}

fn wait_name(what: &WaitWhat, threads: &[String]) -> String {
    match what {
        WaitWhat::Mutex(name) => format!("mutex wait {name}"),
        WaitWhat::RwLock(name, RwMode::Read) => format!("rwlock read wait {name}"),
        WaitWhat::RwLock(name, RwMode::Write) => format!("rwlock write wait {name}"),
        WaitWhat::Condvar(name) => format!("cv wait {name}"),
        WaitWhat::Sleep(_) => "sleep".to_string(),
        WaitWhat::Join(thread) => format!(
            "join {}",
            threads.get(*thread as usize).map_or("?", String::as_str)
        ),
    }
}

impl Trace {
    /// Exports the trace as Chrome trace-event JSON (the "JSON object
    /// format"), which Perfetto opens.
    ///
    /// One track (`tid`) per thread, named after it (track 0 is the
    /// simulator: time advances); waits, sleeps and system calls are spans;
    /// block requests are async spans from submission to completion; faults
    /// and marks are instant events. Timestamps are virtual time plus one
    /// nanosecond per scheduling decision, so that events at the same virtual
    /// instant keep their order and spans stay visible.
    pub fn to_chrome_json(&self) -> String {
        self.to_chrome_value().to_string()
    }

    /// The same export as a `serde_json::Value`.
    pub fn to_chrome_value(&self) -> Value {
        let mut out = Vec::with_capacity(self.events.len() + self.threads.len() + 4);
        out.push(
            json!({"ph": "M", "pid": 1, "tid": 0, "name": "process_name",
            "args": {"name": format!("rumpkit sim seed={}", self.seed)}}),
        );
        out.push(json!({"ph": "M", "pid": 1, "tid": 0, "name": "thread_name",
            "args": {"name": "simulator"}}));
        for (index, name) in self.threads.iter().enumerate() {
            out.push(
                json!({"ph": "M", "pid": 1, "tid": index + 1, "name": "thread_name",
                "args": {"name": name}}),
            );
            out.push(
                json!({"ph": "M", "pid": 1, "tid": index + 1, "name": "thread_sort_index",
                "args": {"sort_index": index + 1}}),
            );
        }
        // Open spans per track, so that spans still open at the end (a
        // deadlock, a panic) are closed and render.
        let mut open: Vec<u32> = vec![0; self.threads.len() + 1];
        let mut last_ts = 0.0f64;
        for event in &self.events {
            let ts = (event.time_ns + event.step) as f64 / 1000.0;
            last_ts = ts;
            let tid = event.thread.map_or(0, |t| t as usize + 1);
            if open.len() <= tid {
                open.resize(tid + 1, 0);
            }
            let value = match &event.kind {
                EventKind::ThreadStart { name } => {
                    json!({"ph": "i", "s": "t", "pid": 1, "tid": tid, "ts": ts,
                        "name": "thread start", "args": {"name": name}})
                }
                EventKind::ThreadEnd => {
                    json!({"ph": "i", "s": "t", "pid": 1, "tid": tid, "ts": ts, "name": "thread end"})
                }
                EventKind::WaitBegin(what) => {
                    open[tid] += 1;
                    let mut value = json!({"ph": "B", "pid": 1, "tid": tid, "ts": ts,
                        "cat": "wait", "name": wait_name(what, &self.threads)});
                    if let WaitWhat::Sleep(until) = what {
                        value["args"] = json!({"until_ns": until});
                    }
                    value
                }
                EventKind::WaitEnd { timed_out } => {
                    if open[tid] == 0 {
                        continue;
                    }
                    open[tid] -= 1;
                    json!({"ph": "E", "pid": 1, "tid": tid, "ts": ts,
                        "args": {"timed_out": timed_out}})
                }
                EventKind::SyscallEnter(name) => {
                    open[tid] += 1;
                    json!({"ph": "B", "pid": 1, "tid": tid, "ts": ts, "cat": "syscall", "name": name})
                }
                EventKind::SyscallExit(_, result) => {
                    if open[tid] == 0 {
                        continue;
                    }
                    open[tid] -= 1;
                    json!({"ph": "E", "pid": 1, "tid": tid, "ts": ts, "args": {"result": result}})
                }
                EventKind::BioSubmit {
                    id,
                    dev,
                    op,
                    offset,
                    len,
                } => json!({"ph": "b", "pid": 1, "tid": tid, "ts": ts, "cat": "bio",
                    "id": id, "name": format!("{} {dev}", op_name(*op)),
                    "args": {"offset": offset, "len": len}}),
                EventKind::BioComplete { id, ok } => {
                    json!({"ph": "e", "pid": 1, "tid": tid, "ts": ts, "cat": "bio",
                        "id": id, "args": {"ok": ok}})
                }
                EventKind::Fault { class, detail } => {
                    json!({"ph": "i", "s": "t", "pid": 1, "tid": tid, "ts": ts, "cat": "fault",
                        "name": format!("fault: {class}"), "args": {"detail": detail}})
                }
                EventKind::Mark(name, detail) => {
                    json!({"ph": "i", "s": "t", "pid": 1, "tid": tid, "ts": ts, "cat": "kernel",
                        "name": name, "args": {"detail": detail}})
                }
                EventKind::TimeAdvance => {
                    json!({"ph": "i", "s": "t", "pid": 1, "tid": tid, "ts": ts, "cat": "time",
                        "name": "time advance", "args": {"now_ns": event.time_ns}})
                }
            };
            out.push(value);
        }
        for (tid, count) in open.iter().enumerate() {
            for _ in 0..*count {
                out.push(json!({"ph": "E", "pid": 1, "tid": tid, "ts": last_ts}));
            }
        }
        json!({"traceEvents": out, "displayTimeUnit": "ns"})
    }
}
