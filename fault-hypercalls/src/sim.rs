//! The simulator: [`Sim`] (configure, spawn, run) and [`SimPlatform`] (the
//! [`Hypercalls`] implementation the kernel sees).
//!
//! All state lives in one `RefCell<State>` inside the platform. A hypercall
//! borrows it, updates it, and releases it *before* it suspends the calling
//! coroutine; the scheduler loop in [`Sim::run`] borrows it between resumes.
//! So no borrow ever spans a context switch, and kernel code (which may call
//! back into the platform from a completion or a destructor) never finds the
//! state borrowed.

use std::alloc::Layout;
use std::any::Any;
use std::cell::{RefCell, RefMut};
use std::cmp::Ordering;
use std::collections::{BTreeMap, BinaryHeap, HashMap};
use std::hash::{BuildHasherDefault, Hasher};
use std::mem::ManuallyDrop;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::ptr::NonNull;
use std::rc::Rc;
use std::sync::Arc;

use corosensei::{CoroutineResult, Yielder};
use rumpkit_hypercall::{
    BioCallback, BioCompletion, BioOp, BioRequest, BlockDevId, BlockDevInfo, CondvarId, HyperError,
    Hypercalls, KernelEvent, MutexId, RwLockId, RwMode, ThreadEntry, ThreadId,
};

use crate::blockdev::{BlockDeviceSpec, BlockImage, Device};
use crate::coroutine::{
    give_stack, install_panic_hook, take_stack, thread_token, Co, CURRENT_THREAD,
    DEFAULT_STACK_SIZE, IN_COROUTINE, PANIC_LOCATION, PRINT_PANICS,
};
use crate::faults::{format_duration, FaultKind, FaultPlan, FaultRule};
use crate::report::{
    FaultRecord, LeakSite, LivelockReason, Outcome, RunReport, WaitEdge, WaitForGraph, WaitTarget,
};
use crate::rng::Rng;
use crate::sched::{Divergence, PointKind, SchedulePoint, Scheduler, Strategy};
use crate::trace::{tag, EventKind, Recorder, Trace, TraceEvent, WaitWhat};

/// Where optional preemption points are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Preemption {
    /// Only blocking hypercalls and `thread_yield` are scheduling points.
    #[default]
    None,
    /// Also every lock acquire and release (`mutex_*`, `rw_*`).
    Locks,
    /// Also every hypercall except `version`, `thread_current` and
    /// `kernel_event`.
    AllHypercalls,
}

/// Everything that makes a run what it is. Same configuration (seed
/// included) and same workload: same run, same trace hash.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// The seed every random choice derives from.
    pub seed: u64,
    /// The scheduling strategy.
    pub strategy: Strategy,
    /// Where preemption points are.
    pub preemption: Preemption,
    /// Which faults to inject.
    pub faults: FaultPlan,
    /// The backing block devices `bio_open` finds.
    pub block_devices: Vec<BlockDeviceSpec>,
    /// What `param` answers.
    pub params: BTreeMap<String, String>,
    /// A run taking more scheduling decisions ends as a livelock.
    pub step_budget: u64,
    /// A run whose virtual time would pass this ends as a livelock.
    pub time_budget_ns: u64,
    /// Keep every event for [`RunReport::trace`] (the hash is computed
    /// either way).
    pub record_trace: bool,
    /// End a run whose threads all ended as `Outcome::Leak` when kernel
    /// memory is still allocated.
    pub detect_leaks: bool,
    /// Block request latency when no `bio.latency` rule applies.
    pub bio_latency_ns: u64,
    /// The wall clock at virtual time 0 (default 2020-01-01T00:00:00Z).
    pub wall_epoch_ns: u64,
    /// End the run as `Outcome::PowerCut` when virtual time would pass this.
    pub power_cut_ns: Option<u64>,
    /// Coroutine stack size in bytes (64 KiB by default; debug builds of deep
    /// kernel code may want more). Stacks are pooled per OS thread.
    pub stack_size: usize,
    /// Let the panic hook print contained panics (off: they are only
    /// reported).
    pub print_panics: bool,
}

impl Default for SimConfig {
    fn default() -> SimConfig {
        SimConfig {
            seed: 0,
            strategy: Strategy::RoundRobin,
            preemption: Preemption::None,
            faults: FaultPlan::default(),
            block_devices: Vec::new(),
            params: BTreeMap::new(),
            step_budget: 1_000_000,
            time_budget_ns: 24 * 3600 * 1_000_000_000,
            record_trace: false,
            detect_leaks: true,
            bio_latency_ns: 10_000,
            wall_epoch_ns: 1_577_836_800 * 1_000_000_000,
            power_cut_ns: None,
            stack_size: DEFAULT_STACK_SIZE,
            print_panics: false,
        }
    }
}

/// No thread (nothing runs; the scheduler loop itself).
const NO_THREAD: u32 = u32::MAX;
/// Code on the owning OS thread but outside any simulated thread (a test
/// setting things up before `run`).
const OUTSIDE: u32 = u32::MAX - 1;

/// How `run` ended a thread early: the `panic` and `exit` hypercalls unwind
/// the calling coroutine with this private payload.
enum Terminate {
    Panic(String),
    Exit(i32),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wait {
    None,
    Mutex(u32),
    Rw(u32, RwMode),
    Cv { cv: u32, mutex: u32 },
    Sleep,
    Join(u32),
}

struct Thread {
    name: Rc<str>,
    wait: Wait,
    finished: bool,
    co: Option<Co>,
    /// The coroutine's yielder; lives at the base of its stack, set when the
    /// coroutine first runs.
    yielder: *const Yielder<(), ()>,
    /// Bumped at every wake-up, so that a timer armed for an earlier wait is
    /// recognised as stale.
    epoch: u32,
    timed_out: bool,
    joiners: Vec<u32>,
}

struct MutexState {
    name: &'static str,
    owner: u32,
    waiters: Vec<u32>,
    alive: bool,
}

struct RwState {
    name: &'static str,
    writer: u32,
    readers: Vec<u32>,
    waiters: Vec<u32>,
    alive: bool,
}

struct CondvarState {
    name: &'static str,
    waiters: Vec<u32>,
    alive: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BioPlan {
    Normal,
    Invalid,
    Error,
    Torn(usize),
    Volatile,
}

/// What a block-I/O rule does to one request.
#[derive(Debug, Clone, Copy)]
enum BioEffect {
    Error,
    Latency(u64, u64),
    Reorder,
    Torn,
    Lost,
}

struct PendingBio {
    id: u64,
    dev: u32,
    op: BioOp,
    offset: u64,
    buf: Vec<u8>,
    done: BioCallback,
    plan: BioPlan,
}

enum TimerKind {
    Wake { thread: u32, epoch: u32 },
    Bio(Box<PendingBio>),
}

struct Timer {
    at: u64,
    seq: u64,
    kind: TimerKind,
}

impl PartialEq for Timer {
    fn eq(&self, other: &Timer) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl Eq for Timer {}
impl PartialOrd for Timer {
    fn partial_cmp(&self, other: &Timer) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Timer {
    // Reversed: `BinaryHeap` is a max-heap and the earliest timer (ties by
    // arming order) must come out first.
    fn cmp(&self, other: &Timer) -> Ordering {
        (other.at, other.seq).cmp(&(self.at, self.seq))
    }
}

struct RuleState {
    rule: FaultRule,
    rng: Rng,
    matched: u64,
    fired: u64,
}

impl RuleState {
    /// Counts a matching event and says whether the rule fires on it.
    fn fires(&mut self, now_ns: u64) -> bool {
        let trigger = &self.rule.trigger;
        if trigger.after_ns.is_some_and(|after| now_ns < after)
            || trigger.until_ns.is_some_and(|until| now_ns >= until)
        {
            return false;
        }
        self.matched += 1;
        if trigger.limit.is_some_and(|limit| self.fired >= limit) {
            return false;
        }
        if trigger.nth.is_some_and(|nth| self.matched != nth) {
            return false;
        }
        if let Some(p) = trigger.probability {
            if !self.rng.chance(p) {
                return false;
            }
        }
        self.fired += 1;
        true
    }
}

/// A fixed, cheap hasher for the allocation table (keyed by address; the
/// table is never iterated in a way that reaches the output).
#[derive(Default)]
struct AddressHasher(u64);

impl Hasher for AddressHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(byte)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
    }
    fn write_usize(&mut self, value: usize) {
        self.0 = (value as u64)
            .wrapping_mul(0x9e37_79b9_7f4a_7c15)
            .rotate_left(29);
    }
}

type AllocTable = HashMap<usize, (Layout, &'static str), BuildHasherDefault<AddressHasher>>;

struct State {
    seed: u64,
    step_budget: u64,
    time_budget_ns: u64,
    detect_leaks: bool,
    bio_latency_ns: u64,
    wall_epoch_ns: u64,
    power_cut_ns: Option<u64>,
    stack_size: usize,
    print_panics: bool,

    now_ns: u64,
    wall_offset_ns: i64,
    steps: u64,
    current: u32,
    last: u32,
    next: u32,
    running: bool,
    tearing_down: bool,
    outcome: Option<Outcome>,

    threads: Vec<Thread>,
    runnable: Vec<u32>,
    live: u32,
    mutexes: Vec<MutexState>,
    rwlocks: Vec<RwState>,
    condvars: Vec<CondvarState>,
    timers: BinaryHeap<Timer>,
    timer_seq: u64,

    scheduler: Box<dyn Scheduler>,
    decisions: Vec<u32>,

    rules: Vec<RuleState>,
    /// Clock jumps: (rule index, at, by, applied), by time.
    jumps: Vec<(usize, u64, i64, bool)>,
    random: Rng,
    faults_injected: Vec<FaultRecord>,

    allocs: AllocTable,
    devices: Vec<Device>,
    bio_seq: u64,
    console: Vec<u8>,
    params: BTreeMap<String, String>,
    rec: Recorder,
}

impl State {
    fn new(config: SimConfig) -> State {
        let seed = config.seed;
        // Each rule's stream is keyed by its canonical text (and how many
        // identical rules precede it), so dropping one rule leaves the
        // others' draws unchanged.
        let mut texts: Vec<String> = Vec::with_capacity(config.faults.rules.len());
        let mut rules = Vec::with_capacity(config.faults.rules.len());
        let mut jumps = Vec::new();
        for (index, rule) in config.faults.rules.into_iter().enumerate() {
            let text = rule.to_string();
            let duplicates = texts.iter().filter(|t| **t == text).count();
            let rng = Rng::stream(seed, &format!("fault:{text}#{duplicates}"));
            texts.push(text);
            if let FaultKind::ClockJump { at_ns, by_ns } = rule.kind {
                jumps.push((index, at_ns, by_ns, false));
            }
            rules.push(RuleState {
                rule,
                rng,
                matched: 0,
                fired: 0,
            });
        }
        jumps.sort_by_key(|&(index, at, _, _)| (at, index));
        State {
            seed,
            step_budget: config.step_budget,
            time_budget_ns: config.time_budget_ns,
            detect_leaks: config.detect_leaks,
            bio_latency_ns: config.bio_latency_ns,
            wall_epoch_ns: config.wall_epoch_ns,
            power_cut_ns: config.power_cut_ns,
            stack_size: config.stack_size,
            print_panics: config.print_panics,
            now_ns: 0,
            wall_offset_ns: 0,
            steps: 0,
            current: NO_THREAD,
            last: NO_THREAD,
            next: NO_THREAD,
            running: false,
            tearing_down: false,
            outcome: None,
            threads: Vec::new(),
            runnable: Vec::new(),
            live: 0,
            mutexes: Vec::new(),
            rwlocks: Vec::new(),
            condvars: Vec::new(),
            timers: BinaryHeap::new(),
            timer_seq: 0,
            scheduler: config.strategy.build(seed),
            decisions: Vec::new(),
            rules,
            jumps,
            random: Rng::stream(seed, "random"),
            faults_injected: Vec::new(),
            allocs: AllocTable::default(),
            devices: config.block_devices.into_iter().map(Device::new).collect(),
            bio_seq: 0,
            console: Vec::new(),
            params: config.params,
            rec: Recorder::new(config.record_trace),
        }
    }

    /// The calling simulated thread, or `OUTSIDE`.
    #[inline]
    fn cur(&self) -> u32 {
        if self.current == NO_THREAD {
            OUTSIDE
        } else {
            self.current
        }
    }

    /// Whether misuse must be forgiven and blocking avoided: the run is
    /// being torn down, or the calling thread is unwinding from a panic
    /// (a second panic, or a switch to another coroutine that shares this
    /// OS thread's panic count, would abort the process).
    fn lenient(&self) -> bool {
        self.tearing_down || std::thread::panicking()
    }

    fn thread_option(thread: u32) -> Option<u32> {
        (thread < OUTSIDE).then_some(thread)
    }

    fn event(&mut self, thread: u32, kind: EventKind) {
        if self.rec.recording() {
            let event = TraceEvent {
                time_ns: self.now_ns,
                step: self.steps,
                thread: State::thread_option(thread),
                kind,
            };
            self.rec.push(event);
        }
    }

    fn record_fault(&mut self, rule: usize, detail: String) {
        let class = self.rules[rule].rule.kind.class();
        let thread = State::thread_option(self.cur());
        self.rec
            .event(tag::FAULT, self.cur(), rule as u64, self.now_ns);
        self.rec.bytes(detail.as_bytes());
        if self.rec.recording() {
            self.event(
                self.cur(),
                EventKind::Fault {
                    class,
                    detail: detail.clone(),
                },
            );
        }
        self.faults_injected.push(FaultRecord {
            time_ns: self.now_ns,
            step: self.steps,
            thread,
            rule,
            class,
            detail,
        });
    }

    fn make_runnable(&mut self, thread: u32) {
        let entry = &mut self.threads[thread as usize];
        entry.wait = Wait::None;
        entry.epoch = entry.epoch.wrapping_add(1);
        if let Err(position) = self.runnable.binary_search(&thread) {
            self.runnable.insert(position, thread);
        }
        self.rec.event(tag::WAKE, thread, 0, 0);
    }

    fn block(&mut self, thread: u32, wait: Wait) {
        self.threads[thread as usize].wait = wait;
        if let Ok(position) = self.runnable.binary_search(&thread) {
            self.runnable.remove(position);
        }
    }

    fn arm_timer(&mut self, at: u64, kind: TimerKind) {
        let seq = self.timer_seq;
        self.timer_seq += 1;
        self.timers.push(Timer { at, seq, kind });
    }

    fn arm_wake(&mut self, thread: u32, deadline_ns: u64) {
        let at = self.jittered(deadline_ns);
        let epoch = self.threads[thread as usize].epoch;
        self.arm_timer(at, TimerKind::Wake { thread, epoch });
    }

    /// The deadline after `clock.jitter` rules had their say.
    fn jittered(&mut self, deadline_ns: u64) -> u64 {
        let mut late = 0;
        let mut fired = None;
        for (index, rule) in self.rules.iter_mut().enumerate() {
            if let FaultKind::ClockJitter { max_ns } = rule.rule.kind {
                if rule.fires(self.now_ns) {
                    let extra = rule.rng.between(0, max_ns);
                    if extra > late {
                        late = extra;
                        fired = Some(index);
                    }
                }
            }
        }
        if let Some(index) = fired {
            self.record_fault(index, format!("wake-up {} late", format_duration(late)));
        }
        deadline_ns.saturating_add(late)
    }

    fn apply_clock_jumps(&mut self) {
        for position in 0..self.jumps.len() {
            let (rule, at, by, applied) = self.jumps[position];
            if applied || at > self.now_ns {
                continue;
            }
            self.jumps[position].3 = true;
            self.wall_offset_ns = self.wall_offset_ns.saturating_add(by);
            let sign = if by < 0 { "-" } else { "+" };
            self.record_fault(
                rule,
                format!(
                    "wall clock jumps by {sign}{}",
                    format_duration(by.unsigned_abs())
                ),
            );
            // Virtual time moves in jumps; the wall clock jumped at `at`
            // even if this is the first instant since then.
            if let Some(record) = self.faults_injected.last_mut() {
                record.time_ns = at;
            }
        }
    }

    /// Takes one scheduling decision, or ends the run (budget, divergence).
    fn decide(&mut self, kind: PointKind) -> Option<u32> {
        if self.steps >= self.step_budget {
            self.outcome = Some(Outcome::Livelock {
                reason: LivelockReason::StepBudget,
                steps: self.steps,
                virtual_time_ns: self.now_ns,
            });
            return None;
        }
        debug_assert!(
            !self.runnable.is_empty(),
            "a decision needs a runnable thread"
        );
        let point = SchedulePoint {
            runnable: &self.runnable,
            last: (self.last < OUTSIDE).then_some(self.last),
            kind,
            step: self.steps,
        };
        match self.scheduler.pick(&point) {
            Ok(thread) => {
                debug_assert!(self.runnable.binary_search(&thread).is_ok());
                self.steps += 1;
                self.decisions.push(thread);
                self.rec.event(
                    tag::DECISION,
                    thread,
                    self.runnable.len() as u64,
                    kind as u64,
                );
                Some(thread)
            }
            Err(Divergence(detail)) => {
                self.outcome = Some(Outcome::ReplayDiverged {
                    step: self.steps,
                    detail,
                });
                None
            }
        }
    }

    fn finish_thread(&mut self, thread: u32) {
        let entry = &mut self.threads[thread as usize];
        if entry.finished {
            return;
        }
        entry.finished = true;
        entry.wait = Wait::None;
        let joiners = std::mem::take(&mut entry.joiners);
        if let Ok(position) = self.runnable.binary_search(&thread) {
            self.runnable.remove(position);
        }
        self.live -= 1;
        for joiner in joiners {
            self.make_runnable(joiner);
        }
        self.rec.event(tag::EXIT, thread, 0, 0);
        self.event(thread, EventKind::ThreadEnd);
    }

    fn release_mutex(&mut self, mutex: u32) {
        let state = &mut self.mutexes[mutex as usize];
        state.owner = NO_THREAD;
        while let Some(waiter) = self.mutexes[mutex as usize].waiters.pop() {
            self.make_runnable(waiter);
        }
    }

    fn label(&self, thread: u32) -> (u32, String) {
        match self.threads.get(thread as usize) {
            Some(entry) => (thread, entry.name.to_string()),
            None => (thread, "<outside the simulation>".to_string()),
        }
    }

    fn wait_for_graph(&self) -> WaitForGraph {
        let mut edges = Vec::new();
        for (index, thread) in self.threads.iter().enumerate() {
            if thread.finished {
                continue;
            }
            let target = match thread.wait {
                Wait::None | Wait::Sleep => continue,
                Wait::Mutex(mutex) => {
                    let state = &self.mutexes[mutex as usize];
                    WaitTarget::Mutex {
                        name: state.name,
                        holder: (state.owner != NO_THREAD).then(|| self.label(state.owner)),
                    }
                }
                Wait::Rw(lock, mode) => {
                    let state = &self.rwlocks[lock as usize];
                    let holders = if state.writer != NO_THREAD {
                        vec![self.label(state.writer)]
                    } else {
                        let mut readers = state.readers.clone();
                        readers.sort_unstable();
                        readers.into_iter().map(|r| self.label(r)).collect()
                    };
                    WaitTarget::RwLock {
                        name: state.name,
                        mode,
                        holders,
                    }
                }
                Wait::Cv { cv, mutex } => WaitTarget::Condvar {
                    name: self.condvars[cv as usize].name,
                    mutex: self.mutexes[mutex as usize].name,
                },
                Wait::Join(target) => WaitTarget::Join {
                    thread: self.label(target),
                },
            };
            edges.push(WaitEdge {
                thread: index as u32,
                name: thread.name.to_string(),
                target,
            });
        }
        WaitForGraph { edges }
    }

    fn leaks(&self) -> Vec<LeakSite> {
        let mut by_site: BTreeMap<&'static str, (u64, u64)> = BTreeMap::new();
        for (layout, site) in self.allocs.values() {
            let entry = by_site.entry(site).or_default();
            entry.0 += 1;
            entry.1 += layout.size() as u64;
        }
        by_site
            .into_iter()
            .map(|(site, (count, bytes))| LeakSite { site, count, bytes })
            .collect()
    }

    fn mutex_index(&self, mutex: MutexId) -> u32 {
        let index = mutex.0 as usize;
        match self.mutexes.get(index) {
            Some(state) if state.alive => index as u32,
            Some(_) => panic!("mutex #{index} used after mutex_destroy"),
            None => panic!("mutex #{index} was never created"),
        }
    }

    fn rw_index(&self, lock: RwLockId) -> u32 {
        let index = lock.0 as usize;
        match self.rwlocks.get(index) {
            Some(state) if state.alive => index as u32,
            Some(_) => panic!("rwlock #{index} used after rw_destroy"),
            None => panic!("rwlock #{index} was never created"),
        }
    }

    fn cv_index(&self, cv: CondvarId) -> u32 {
        let index = cv.0 as usize;
        match self.condvars.get(index) {
            Some(state) if state.alive => index as u32,
            Some(_) => panic!("condvar #{index} used after cv_destroy"),
            None => panic!("condvar #{index} was never created"),
        }
    }
}

impl Drop for State {
    fn drop(&mut self) {
        // Coroutines and completions still here were created after the run
        // (or the platform is dropped without its `Sim`); running their
        // destructors now would call into a platform being dropped, so they
        // are leaked instead. `Sim` tears everything down before this point
        // in every ordinary use.
        for thread in &mut self.threads {
            if let Some(co) = thread.co.take() {
                std::mem::forget(co);
            }
        }
        for timer in std::mem::take(&mut self.timers).into_vec() {
            std::mem::forget(timer);
        }
        for (address, (layout, _)) in self.allocs.drain() {
            // SAFETY: every entry of the table is a live allocation made by
            // `mem_alloc` with exactly this layout; nothing can free it
            // through the platform any more (the platform is being dropped).
            unsafe { std::alloc::dealloc(address as *mut u8, layout) };
        }
    }
}

/// The deterministic platform as the kernel sees it: an [`Hypercalls`]
/// implementation bound to one OS thread.
///
/// It is `Send + Sync` because the trait requires it, but it checks on every
/// call that it is on the OS thread that created it (a call from another
/// thread panics), and a drop on another thread leaks it rather than touch
/// single-threaded state.
pub struct SimPlatform {
    owner: u64,
    preemption: Preemption,
    state: ManuallyDrop<RefCell<State>>,
}

// SAFETY: every access to `state` goes through `SimPlatform::state`, which
// checks that the caller runs on the owning OS thread (`owner`) and panics
// otherwise; `Drop` does not touch `state` on a foreign thread. So the
// non-thread-safe contents (RefCell, Rc, coroutines) are only ever used by
// the thread that created them.
unsafe impl Send for SimPlatform {}
// SAFETY: see `Send` above: shared references are only usable on the owner.
unsafe impl Sync for SimPlatform {}

impl Drop for SimPlatform {
    fn drop(&mut self) {
        if thread_token() == self.owner {
            // SAFETY: dropped exactly once, here, on the owning thread.
            unsafe { ManuallyDrop::drop(&mut self.state) };
        }
        // On another thread the state is leaked on purpose: dropping it
        // there would race with nothing, but it holds coroutine stacks and
        // `Rc`s that belong to the owning thread.
    }
}

/// A pointer to the platform that simulated threads carry.
#[derive(Clone, Copy)]
struct PlatformPtr(*const SimPlatform);

impl SimPlatform {
    #[inline]
    fn state(&self) -> RefMut<'_, State> {
        assert!(
            thread_token() == self.owner,
            "the rumpkit simulator was called from an OS thread other than its own"
        );
        self.state.borrow_mut()
    }

    /// Suspends the calling simulated thread; `st` is released first.
    fn switch_out(&self, st: RefMut<'_, State>) {
        let current = st.current;
        assert!(
            current < OUTSIDE,
            "a blocking hypercall was made outside a simulated thread"
        );
        let yielder = st.threads[current as usize].yielder;
        drop(st);
        // SAFETY: `yielder` was stored by this very coroutine when it started
        // (`coroutine_main`) and points into the base frame of its stack,
        // which lives as long as the coroutine; we are running on that
        // coroutine now (`current`), so suspending through it is what the
        // yielder is for. No `RefCell` borrow is held across the switch.
        unsafe { (*yielder).suspend(()) }
    }

    /// A scheduling point where the calling thread stays runnable.
    fn schedule_point(&self, kind: PointKind) {
        let mut st = self.state();
        let current = st.current;
        if current >= OUTSIDE || st.outcome.is_some() || st.lenient() {
            return;
        }
        match st.decide(kind) {
            Some(thread) if thread == current => return,
            Some(thread) => st.next = thread,
            None => {}
        }
        self.switch_out(st);
    }

    #[inline]
    fn preempt(&self, lock_operation: bool) {
        match self.preemption {
            Preemption::None => {}
            Preemption::Locks if !lock_operation => {}
            _ => self.schedule_point(PointKind::Preempt),
        }
    }

    fn create_thread(&self, st: &mut State, name: Rc<str>, entry: Box<dyn FnOnce()>) -> u32 {
        let thread = st.threads.len() as u32;
        assert!(thread < OUTSIDE, "too many threads");
        let platform = PlatformPtr(self);
        let stack = take_stack(st.stack_size);
        let co = Co::with_stack(stack, move |yielder, ()| {
            coroutine_main(platform, thread, yielder, entry)
        });
        st.rec.event(tag::SPAWN, thread, 0, 0);
        st.rec.bytes(name.as_bytes());
        if st.rec.recording() {
            st.event(
                thread,
                EventKind::ThreadStart {
                    name: name.to_string(),
                },
            );
        }
        st.threads.push(Thread {
            name,
            wait: Wait::None,
            finished: false,
            co: Some(co),
            yielder: std::ptr::null(),
            epoch: 0,
            timed_out: false,
            joiners: Vec::new(),
        });
        st.runnable.push(thread);
        st.live += 1;
        st.scheduler.thread_created(thread);
        thread
    }

    /// Moves time to the next deadline and fires what is due. Returns false
    /// when no timer was pending (or the run ended: power cut, budget).
    fn advance_time(&self, st: &mut State) -> bool {
        loop {
            let Some(top) = st.timers.peek() else {
                return false;
            };
            let stale = match top.kind {
                TimerKind::Wake { thread, epoch } => {
                    let entry = &st.threads[thread as usize];
                    entry.epoch != epoch || entry.wait == Wait::None
                }
                TimerKind::Bio(_) => false,
            };
            if stale {
                st.timers.pop();
                continue;
            }
            let at = top.at.max(st.now_ns);
            if let Some(cut) = st.power_cut_ns {
                if at > cut {
                    st.now_ns = st.now_ns.max(cut);
                    st.outcome = Some(Outcome::PowerCut { at_ns: cut });
                    return false;
                }
            }
            if at > st.time_budget_ns {
                st.outcome = Some(Outcome::Livelock {
                    reason: LivelockReason::TimeBudget,
                    steps: st.steps,
                    virtual_time_ns: st.now_ns,
                });
                return false;
            }
            if at > st.now_ns {
                st.now_ns = at;
                st.rec.event(tag::TIME, NO_THREAD, at, 0);
                st.event(NO_THREAD, EventKind::TimeAdvance);
                st.apply_clock_jumps();
            }
            let mut fired = false;
            while st.timers.peek().is_some_and(|t| t.at <= st.now_ns) {
                let timer = st.timers.pop().expect("peeked");
                fired |= self.fire(st, timer);
            }
            if fired {
                return true;
            }
        }
    }

    fn fire(&self, st: &mut State, timer: Timer) -> bool {
        match timer.kind {
            TimerKind::Wake { thread, epoch } => {
                let entry = &mut st.threads[thread as usize];
                if entry.epoch != epoch || entry.wait == Wait::None {
                    return false;
                }
                if let Wait::Cv { cv, .. } = entry.wait {
                    entry.timed_out = true;
                    st.condvars[cv as usize].waiters.retain(|&w| w != thread);
                }
                st.make_runnable(thread);
                true
            }
            TimerKind::Bio(pending) => {
                let name = st.devices[pending.dev as usize].thread_name.clone();
                let platform = PlatformPtr(self);
                let entry: Box<dyn FnOnce()> = Box::new(move || {
                    // SAFETY: see `PlatformPtr` in `coroutine_main`: the
                    // platform outlives every coroutine it owns.
                    let platform = unsafe { &*platform.0 };
                    let (completion, done) = platform.complete_bio(*pending);
                    done(completion);
                });
                self.create_thread(st, name, entry);
                true
            }
        }
    }

    /// Performs a block request at its completion time (on its completion
    /// thread) and builds the completion.
    fn complete_bio(&self, pending: PendingBio) -> (BioCompletion, BioCallback) {
        let mut st = self.state();
        let PendingBio {
            id,
            dev,
            op,
            offset,
            mut buf,
            done,
            plan,
        } = pending;
        let device = &mut st.devices[dev as usize];
        let length = buf.len();
        let result = match (plan, op) {
            (BioPlan::Invalid, _) => Err(HyperError::Invalid),
            (BioPlan::Error, _) => Err(HyperError::Io),
            (_, BioOp::Read) => {
                device.read(offset, &mut buf);
                Ok(length)
            }
            (BioPlan::Torn(blocks), BioOp::Write) => {
                device.write(offset, &buf, blocks, false);
                Err(HyperError::Io)
            }
            (plan, BioOp::Write) => {
                device.write(offset, &buf, usize::MAX, plan == BioPlan::Volatile);
                Ok(length)
            }
            (_, BioOp::Flush) => {
                device.flush();
                Ok(0)
            }
        };
        let current = st.cur();
        st.rec
            .event(tag::BIO, current, id, u64::from(result.is_ok()) << 1 | 1);
        if op == BioOp::Read && result.is_ok() {
            st.rec.bytes(&buf);
        }
        st.event(
            current,
            EventKind::BioComplete {
                id,
                ok: result.is_ok(),
            },
        );
        (
            BioCompletion {
                op,
                offset,
                buf,
                result,
            },
            done,
        )
    }

    fn mutex_acquire(&self, mutex: MutexId) {
        let mut waited = false;
        loop {
            let mut st = self.state();
            let index = st.mutex_index(mutex);
            let current = st.cur();
            let lenient = st.lenient();
            let state = &mut st.mutexes[index as usize];
            if state.owner == NO_THREAD {
                state.owner = current;
                st.rec.event(tag::MUTEX, current, u64::from(index), 1);
                if waited {
                    st.event(current, EventKind::WaitEnd { timed_out: false });
                }
                return;
            }
            if lenient {
                return;
            }
            if state.owner == current {
                let name = state.name;
                drop(st);
                panic!("mutex_enter: mutex '{name}' is already held by the calling thread");
            }
            state.waiters.push(current);
            if !waited {
                waited = true;
                let name = state.name;
                st.rec.event(tag::WAIT, current, u64::from(index), 1);
                st.event(current, EventKind::WaitBegin(WaitWhat::Mutex(name)));
            }
            st.block(current, Wait::Mutex(index));
            self.switch_out(st);
        }
    }

    fn cv_wait_inner(&self, cv: CondvarId, mutex: MutexId, deadline_ns: Option<u64>) -> bool {
        let mut st = self.state();
        let cv_index = st.cv_index(cv);
        let mutex_index = st.mutex_index(mutex);
        let current = st.cur();
        if st.lenient() {
            return true;
        }
        if st.mutexes[mutex_index as usize].owner != current {
            let name = st.mutexes[mutex_index as usize].name;
            drop(st);
            panic!("cv_wait: mutex '{name}' is not held by the calling thread");
        }
        if current >= OUTSIDE {
            drop(st);
            panic!("cv_wait outside a simulated thread");
        }
        if deadline_ns.is_some_and(|deadline| deadline <= st.now_ns) {
            st.rec.event(tag::CONDVAR, current, u64::from(cv_index), 3);
            return false;
        }
        st.release_mutex(mutex_index);
        st.condvars[cv_index as usize].waiters.push(current);
        st.threads[current as usize].timed_out = false;
        st.block(
            current,
            Wait::Cv {
                cv: cv_index,
                mutex: mutex_index,
            },
        );
        if let Some(deadline) = deadline_ns {
            st.arm_wake(current, deadline);
        }
        st.rec.event(tag::WAIT, current, u64::from(cv_index), 2);
        let name = st.condvars[cv_index as usize].name;
        st.event(current, EventKind::WaitBegin(WaitWhat::Condvar(name)));
        self.switch_out(st);
        let mut st = self.state();
        let timed_out = st.threads[current as usize].timed_out;
        st.event(current, EventKind::WaitEnd { timed_out });
        drop(st);
        self.mutex_acquire(mutex);
        !timed_out
    }

    fn rw_can_take(state: &RwState, mode: RwMode) -> bool {
        match mode {
            RwMode::Read => state.writer == NO_THREAD,
            RwMode::Write => state.writer == NO_THREAD && state.readers.is_empty(),
        }
    }
}

/// The body of every simulated thread.
fn coroutine_main(
    platform: PlatformPtr,
    thread: u32,
    yielder: &Yielder<(), ()>,
    entry: Box<dyn FnOnce()>,
) {
    // SAFETY: the coroutine running this function is owned by the platform's
    // state, and the platform (kept alive by the `Arc` inside `Sim`) finishes
    // or force-unwinds every coroutine it owns before it is dropped (`Sim`'s
    // teardown; `State::drop` leaks, never runs, any stragglers). So the
    // platform outlives this call.
    let platform = unsafe { &*platform.0 };
    platform.state().threads[thread as usize].yielder = yielder;
    let Err(payload) = catch_unwind(AssertUnwindSafe(entry)) else {
        return;
    };
    let mut st = platform.state();
    if st.tearing_down {
        // The forced unwind of teardown: let it reach the coroutine root.
        drop(st);
        resume_unwind(payload);
    }
    if st.outcome.is_none() {
        let name = st.threads[thread as usize].name.to_string();
        let outcome = match payload.downcast_ref::<Terminate>() {
            Some(Terminate::Panic(message)) => Outcome::KernelPanic {
                thread: name,
                message: message.clone(),
            },
            Some(Terminate::Exit(status)) => Outcome::Exit { status: *status },
            None => {
                let location = PANIC_LOCATION.with(|slot| slot.borrow_mut().take());
                let mut message = panic_message(&*payload);
                if let Some(location) = location {
                    message = format!("{message} (at {location})");
                }
                Outcome::Panic {
                    thread: name,
                    message,
                }
            }
        };
        st.outcome = Some(outcome);
    }
    drop(st);
    drop(payload);
}

fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(text) = payload.downcast_ref::<&str>() {
        (*text).to_string()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "<a panic payload that is not a string>".to_string()
    }
}

impl Hypercalls for SimPlatform {
    fn mem_alloc(&self, layout: Layout, site: &'static str) -> Option<NonNull<u8>> {
        self.preempt(false);
        let mut st = self.state();
        let current = st.cur();
        st.rec.event(
            tag::ALLOC,
            current,
            layout.size() as u64,
            layout.align() as u64,
        );
        st.rec.bytes(site.as_bytes());
        let now = st.now_ns;
        let mut fired = None;
        for (index, rule) in st.rules.iter_mut().enumerate() {
            if let FaultKind::Alloc { site: filter } = &rule.rule.kind {
                if filter.as_ref().is_none_or(|p| p.matches(site)) && rule.fires(now) {
                    fired = fired.or(Some(index));
                }
            }
        }
        if let Some(rule) = fired {
            st.record_fault(
                rule,
                format!("allocation of {} bytes at site {site} fails", layout.size()),
            );
            return None;
        }
        if layout.size() == 0 {
            drop(st);
            panic!("mem_alloc of zero bytes at site {site}");
        }
        // SAFETY: the layout has a non-zero size (checked above).
        let pointer = NonNull::new(unsafe { std::alloc::alloc(layout) })?;
        st.allocs.insert(pointer.as_ptr() as usize, (layout, site));
        Some(pointer)
    }

    unsafe fn mem_free(&self, ptr: NonNull<u8>, layout: Layout) {
        self.preempt(false);
        let mut st = self.state();
        let current = st.cur();
        match st.allocs.remove(&(ptr.as_ptr() as usize)) {
            Some((allocated, site)) if allocated == layout => {
                st.rec.event(tag::FREE, current, layout.size() as u64, 0);
                // SAFETY: the pointer was allocated by `mem_alloc` with this
                // layout and was still outstanding (it was in the table).
                unsafe { std::alloc::dealloc(ptr.as_ptr(), layout) };
                let _ = site;
            }
            Some((allocated, site)) => {
                if st.lenient() {
                    st.allocs.insert(ptr.as_ptr() as usize, (allocated, site));
                    return;
                }
                drop(st);
                panic!(
                    "mem_free with size {} align {} of memory allocated at site {site} \
                     with size {} align {}",
                    layout.size(),
                    layout.align(),
                    allocated.size(),
                    allocated.align()
                );
            }
            None => {
                if st.lenient() {
                    return;
                }
                drop(st);
                panic!(
                    "mem_free of {} bytes that mem_alloc did not hand out (or that were \
                     already freed)",
                    layout.size()
                );
            }
        }
    }

    fn clock_monotonic_ns(&self) -> u64 {
        self.preempt(false);
        let mut st = self.state();
        let (current, now) = (st.cur(), st.now_ns);
        st.rec.event(tag::CLOCK, current, now, 0);
        now
    }

    fn clock_wall_ns(&self) -> u64 {
        self.preempt(false);
        let mut st = self.state();
        let wall =
            i128::from(st.wall_epoch_ns) + i128::from(st.now_ns) + i128::from(st.wall_offset_ns);
        let wall = wall.clamp(0, i128::from(u64::MAX)) as u64;
        let current = st.cur();
        st.rec.event(tag::CLOCK, current, wall, 1);
        wall
    }

    fn sleep_until(&self, deadline_ns: u64) {
        let mut st = self.state();
        let current = st.cur();
        if deadline_ns <= st.now_ns || st.lenient() {
            drop(st);
            self.preempt(false);
            return;
        }
        if current >= OUTSIDE {
            drop(st);
            panic!("sleep_until outside a simulated thread");
        }
        st.rec.event(tag::WAIT, current, deadline_ns, 3);
        st.event(current, EventKind::WaitBegin(WaitWhat::Sleep(deadline_ns)));
        st.block(current, Wait::Sleep);
        st.arm_wake(current, deadline_ns);
        self.switch_out(st);
        let mut st = self.state();
        st.event(current, EventKind::WaitEnd { timed_out: false });
    }

    fn random_fill(&self, buf: &mut [u8]) {
        self.preempt(false);
        let mut st = self.state();
        st.random.fill(buf);
        let current = st.cur();
        st.rec.event(tag::RANDOM, current, buf.len() as u64, 0);
    }

    fn thread_create(&self, name: &str, entry: ThreadEntry) -> Result<ThreadId, HyperError> {
        self.preempt(false);
        let mut st = self.state();
        if st.tearing_down {
            drop(st);
            drop(entry);
            return Err(HyperError::Again);
        }
        let now = st.now_ns;
        let mut fired = None;
        for (index, rule) in st.rules.iter_mut().enumerate() {
            if let FaultKind::ThreadCreate { name: filter } = &rule.rule.kind {
                if filter.as_ref().is_none_or(|p| p.matches(name)) && rule.fires(now) {
                    fired = fired.or(Some(index));
                }
            }
        }
        if let Some(rule) = fired {
            st.record_fault(rule, format!("creation of thread '{name}' fails"));
            drop(st);
            drop(entry);
            return Err(HyperError::Again);
        }
        let thread = self.create_thread(&mut st, Rc::from(name), entry);
        Ok(ThreadId(u64::from(thread)))
    }

    fn thread_join(&self, thread: ThreadId) {
        let mut st = self.state();
        let current = st.cur();
        let Some(target) = u32::try_from(thread.0)
            .ok()
            .filter(|&t| (t as usize) < st.threads.len())
        else {
            drop(st);
            panic!("thread_join of thread #{} that was never created", thread.0);
        };
        if target == current {
            drop(st);
            panic!("thread_join: a thread cannot join itself");
        }
        if st.threads[target as usize].finished || st.lenient() {
            drop(st);
            self.preempt(false);
            return;
        }
        if current >= OUTSIDE {
            drop(st);
            panic!("thread_join outside a simulated thread");
        }
        st.rec.event(tag::WAIT, current, u64::from(target), 4);
        st.event(current, EventKind::WaitBegin(WaitWhat::Join(target)));
        st.threads[target as usize].joiners.push(current);
        st.block(current, Wait::Join(target));
        self.switch_out(st);
        let mut st = self.state();
        st.event(current, EventKind::WaitEnd { timed_out: false });
    }

    fn thread_current(&self) -> ThreadId {
        ThreadId(u64::from(self.state().cur()))
    }

    fn thread_yield(&self) {
        self.schedule_point(PointKind::Yield);
    }

    fn mutex_create(&self, name: &'static str) -> MutexId {
        self.preempt(false);
        let mut st = self.state();
        let index = st.mutexes.len() as u64;
        st.mutexes.push(MutexState {
            name,
            owner: NO_THREAD,
            waiters: Vec::new(),
            alive: true,
        });
        MutexId(index)
    }

    fn mutex_destroy(&self, mutex: MutexId) {
        self.preempt(false);
        let mut st = self.state();
        let index = st.mutex_index(mutex) as usize;
        let state = &mut st.mutexes[index];
        if (state.owner != NO_THREAD || !state.waiters.is_empty()) && !st.lenient() {
            let name = st.mutexes[index].name;
            drop(st);
            panic!("mutex_destroy of mutex '{name}' while it is held or waited for");
        }
        st.mutexes[index].alive = false;
    }

    fn mutex_enter(&self, mutex: MutexId) {
        self.preempt(true);
        self.mutex_acquire(mutex);
    }

    fn mutex_try_enter(&self, mutex: MutexId) -> bool {
        self.preempt(true);
        let mut st = self.state();
        let index = st.mutex_index(mutex);
        let current = st.cur();
        let state = &mut st.mutexes[index as usize];
        let taken = state.owner == NO_THREAD;
        if taken {
            state.owner = current;
        }
        st.rec
            .event(tag::MUTEX, current, u64::from(index), 2 | u64::from(taken));
        taken
    }

    fn mutex_exit(&self, mutex: MutexId) {
        {
            let mut st = self.state();
            let index = st.mutex_index(mutex);
            let current = st.cur();
            let owner = st.mutexes[index as usize].owner;
            if owner != current {
                if st.lenient() {
                    return;
                }
                let name = st.mutexes[index as usize].name;
                drop(st);
                panic!("mutex_exit: mutex '{name}' is not held by the calling thread");
            }
            st.rec.event(tag::MUTEX, current, u64::from(index), 0);
            st.release_mutex(index);
        }
        self.preempt(true);
    }

    fn rw_create(&self, name: &'static str) -> RwLockId {
        self.preempt(false);
        let mut st = self.state();
        let index = st.rwlocks.len() as u64;
        st.rwlocks.push(RwState {
            name,
            writer: NO_THREAD,
            readers: Vec::new(),
            waiters: Vec::new(),
            alive: true,
        });
        RwLockId(index)
    }

    fn rw_destroy(&self, lock: RwLockId) {
        self.preempt(false);
        let mut st = self.state();
        let index = st.rw_index(lock) as usize;
        let state = &st.rwlocks[index];
        let busy =
            state.writer != NO_THREAD || !state.readers.is_empty() || !state.waiters.is_empty();
        if busy && !st.lenient() {
            let name = state.name;
            drop(st);
            panic!("rw_destroy of rwlock '{name}' while it is held or waited for");
        }
        st.rwlocks[index].alive = false;
    }

    fn rw_enter(&self, lock: RwLockId, mode: RwMode) {
        self.preempt(true);
        let mut waited = false;
        loop {
            let mut st = self.state();
            let index = st.rw_index(lock);
            let current = st.cur();
            let lenient = st.lenient();
            let state = &mut st.rwlocks[index as usize];
            if SimPlatform::rw_can_take(state, mode) {
                match mode {
                    RwMode::Read => state.readers.push(current),
                    RwMode::Write => state.writer = current,
                }
                st.rec.event(
                    tag::RWLOCK,
                    current,
                    u64::from(index),
                    1 | (mode as u64) << 2,
                );
                if waited {
                    st.event(current, EventKind::WaitEnd { timed_out: false });
                }
                return;
            }
            if lenient {
                return;
            }
            if state.writer == current || state.readers.contains(&current) {
                let name = state.name;
                drop(st);
                panic!("rw_enter: rwlock '{name}' is already held by the calling thread");
            }
            state.waiters.push(current);
            if !waited {
                waited = true;
                let name = state.name;
                st.rec.event(tag::WAIT, current, u64::from(index), 5);
                st.event(current, EventKind::WaitBegin(WaitWhat::RwLock(name, mode)));
            }
            st.block(current, Wait::Rw(index, mode));
            self.switch_out(st);
        }
    }

    fn rw_try_enter(&self, lock: RwLockId, mode: RwMode) -> bool {
        self.preempt(true);
        let mut st = self.state();
        let index = st.rw_index(lock);
        let current = st.cur();
        let state = &mut st.rwlocks[index as usize];
        let taken = SimPlatform::rw_can_take(state, mode);
        if taken {
            match mode {
                RwMode::Read => state.readers.push(current),
                RwMode::Write => state.writer = current,
            }
        }
        st.rec.event(
            tag::RWLOCK,
            current,
            u64::from(index),
            2 | u64::from(taken) | (mode as u64) << 2,
        );
        taken
    }

    fn rw_exit(&self, lock: RwLockId) {
        {
            let mut st = self.state();
            let index = st.rw_index(lock);
            let current = st.cur();
            let lenient = st.lenient();
            let state = &mut st.rwlocks[index as usize];
            if state.writer == current {
                state.writer = NO_THREAD;
            } else if let Some(position) = state.readers.iter().position(|&r| r == current) {
                state.readers.swap_remove(position);
            } else {
                if lenient {
                    return;
                }
                let name = state.name;
                drop(st);
                panic!("rw_exit: rwlock '{name}' is not held by the calling thread");
            }
            st.rec.event(tag::RWLOCK, current, u64::from(index), 0);
            while let Some(waiter) = st.rwlocks[index as usize].waiters.pop() {
                st.make_runnable(waiter);
            }
        }
        self.preempt(true);
    }

    fn cv_create(&self, name: &'static str) -> CondvarId {
        self.preempt(false);
        let mut st = self.state();
        let index = st.condvars.len() as u64;
        st.condvars.push(CondvarState {
            name,
            waiters: Vec::new(),
            alive: true,
        });
        CondvarId(index)
    }

    fn cv_destroy(&self, cv: CondvarId) {
        self.preempt(false);
        let mut st = self.state();
        let index = st.cv_index(cv) as usize;
        if !st.condvars[index].waiters.is_empty() && !st.lenient() {
            let name = st.condvars[index].name;
            drop(st);
            panic!("cv_destroy of condvar '{name}' while threads wait on it");
        }
        st.condvars[index].alive = false;
    }

    fn cv_wait(&self, cv: CondvarId, mutex: MutexId) {
        self.cv_wait_inner(cv, mutex, None);
    }

    fn cv_wait_until(&self, cv: CondvarId, mutex: MutexId, deadline_ns: u64) -> bool {
        self.cv_wait_inner(cv, mutex, Some(deadline_ns))
    }

    fn cv_signal(&self, cv: CondvarId) {
        self.preempt(false);
        let mut st = self.state();
        let index = st.cv_index(cv);
        let current = st.cur();
        st.rec.event(tag::CONDVAR, current, u64::from(index), 1);
        if st.condvars[index as usize].waiters.is_empty() {
            return;
        }
        let waiter = st.condvars[index as usize].waiters.remove(0);
        st.make_runnable(waiter);
    }

    fn cv_broadcast(&self, cv: CondvarId) {
        self.preempt(false);
        let mut st = self.state();
        let index = st.cv_index(cv);
        let current = st.cur();
        st.rec.event(tag::CONDVAR, current, u64::from(index), 2);
        while let Some(waiter) = st.condvars[index as usize].waiters.pop() {
            st.make_runnable(waiter);
        }
    }

    fn bio_open(&self, name: &str) -> Result<BlockDevInfo, HyperError> {
        self.preempt(false);
        let mut st = self.state();
        let Some(index) = st.devices.iter().position(|d| &*d.name == name) else {
            return Err(HyperError::NoDevice);
        };
        let current = st.cur();
        st.rec.event(tag::BIO, current, index as u64, 0);
        let device = &st.devices[index];
        Ok(BlockDevInfo {
            id: BlockDevId(index as u64),
            size_bytes: device.durable.size_bytes,
            block_size: device.durable.block_size,
            read_only: device.read_only,
        })
    }

    fn bio_submit(&self, dev: BlockDevId, request: BioRequest, done: BioCallback) {
        self.preempt(false);
        let mut st = self.state();
        if st.tearing_down {
            // Nobody will run the completion: drop it (outside the borrow,
            // its destructors may call back in).
            drop(st);
            drop(done);
            drop(request);
            return;
        }
        let Some(dev_index) = u32::try_from(dev.0)
            .ok()
            .filter(|&d| (d as usize) < st.devices.len())
        else {
            drop(st);
            panic!(
                "bio_submit on block device #{} that was never opened",
                dev.0
            );
        };
        let current = st.cur();
        let now = st.now_ns;
        let id = st.bio_seq;
        st.bio_seq += 1;
        let device = &st.devices[dev_index as usize];
        let block = device.block_size();
        let length = request.buf.len() as u64;
        let valid = match request.op {
            BioOp::Flush => true,
            BioOp::Read | BioOp::Write => {
                request.offset % block == 0
                    && length % block == 0
                    && request
                        .offset
                        .checked_add(length)
                        .is_some_and(|end| end <= device.durable.size_bytes)
                    && !(request.op == BioOp::Write && device.read_only)
            }
        };
        let dev_name = device.name.clone();
        let mut plan = if valid {
            BioPlan::Normal
        } else {
            BioPlan::Invalid
        };
        let mut latency = st.bio_latency_ns;
        let mut reorder = None;
        let mut faults: Vec<(usize, String)> = Vec::new();
        if valid {
            let blocks = (length / block) as usize;
            for (index, rule) in st.rules.iter_mut().enumerate() {
                let dev_filter = match &rule.rule.kind {
                    FaultKind::BioError { dev, .. }
                    | FaultKind::BioLatency { dev, .. }
                    | FaultKind::BioReorder { dev }
                    | FaultKind::BioTorn { dev }
                    | FaultKind::BioLost { dev } => dev,
                    _ => continue,
                };
                if dev_filter.as_deref().is_some_and(|d| d != &*dev_name) {
                    continue;
                }
                let is_write = request.op == BioOp::Write;
                // Which effect the rule has on this request; a rule counts
                // (and draws) for every request its own filters admit. When
                // several rules hit one request, EIO beats a torn write,
                // which beats a lost one.
                let effect = match rule.rule.kind {
                    FaultKind::BioError { op, .. } if op.is_none_or(|op| op == request.op) => {
                        BioEffect::Error
                    }
                    FaultKind::BioLatency { min_ns, max_ns, .. } => {
                        BioEffect::Latency(min_ns, max_ns)
                    }
                    FaultKind::BioReorder { .. } => BioEffect::Reorder,
                    FaultKind::BioTorn { .. } if is_write => BioEffect::Torn,
                    FaultKind::BioLost { .. } if is_write => BioEffect::Lost,
                    _ => continue,
                };
                if !rule.fires(now) {
                    continue;
                }
                match effect {
                    BioEffect::Error => {
                        plan = BioPlan::Error;
                        faults.push((index, "fails with EIO".to_string()));
                    }
                    BioEffect::Latency(min_ns, max_ns) => {
                        latency = rule.rng.between(min_ns, max_ns);
                        faults.push((index, format!("latency {}", format_duration(latency))));
                    }
                    BioEffect::Reorder => {
                        let draw = rule.rng.next_u64();
                        reorder = reorder.or(Some((index, draw)));
                    }
                    BioEffect::Torn if plan != BioPlan::Error => {
                        let kept = rule.rng.below(blocks.max(1) as u64) as usize;
                        plan = BioPlan::Torn(kept);
                        faults.push((
                            index,
                            format!("write torn: {kept} of {blocks} blocks written"),
                        ));
                    }
                    BioEffect::Lost if plan == BioPlan::Normal => {
                        plan = BioPlan::Volatile;
                        faults.push((
                            index,
                            "write kept in the volatile cache until a flush".to_string(),
                        ));
                    }
                    BioEffect::Torn | BioEffect::Lost => {}
                }
            }
        }
        let fifo_floor = st.devices[dev_index as usize].last_completion_ns;
        let at = match reorder {
            Some((rule, draw)) => {
                // A reordered request ignores the device's completion order
                // and may take less than the usual latency.
                let at = now + draw % (latency + 1);
                if at < fifo_floor {
                    faults.push((
                        rule,
                        "completes before requests submitted earlier".to_string(),
                    ));
                }
                at
            }
            None => (now + latency).max(fifo_floor),
        };
        let device = &mut st.devices[dev_index as usize];
        device.last_completion_ns = device.last_completion_ns.max(at);
        let op_name = match request.op {
            BioOp::Read => "read",
            BioOp::Write => "write",
            BioOp::Flush => "flush",
        };
        for (rule, detail) in faults {
            st.record_fault(
                rule,
                format!(
                    "{op_name} of {length} bytes at {} on {dev_name} (request {id}): {detail}",
                    request.offset
                ),
            );
        }
        st.rec
            .event(tag::BIO, current, id, (request.op as u64) << 2);
        st.rec.word(request.offset);
        st.rec.word(at);
        if request.op == BioOp::Write {
            st.rec.bytes(&request.buf);
        }
        if st.rec.recording() {
            st.event(
                current,
                EventKind::BioSubmit {
                    id,
                    dev: dev_name.to_string(),
                    op: request.op,
                    offset: request.offset,
                    len: request.buf.len(),
                },
            );
        }
        let pending = PendingBio {
            id,
            dev: dev_index,
            op: request.op,
            offset: request.offset,
            buf: request.buf,
            done,
            plan,
        };
        st.arm_timer(at, TimerKind::Bio(Box::new(pending)));
    }

    fn bio_close(&self, dev: BlockDevId) {
        self.preempt(false);
        let mut st = self.state();
        let current = st.cur();
        st.rec.event(tag::BIO, current, dev.0, 2);
    }

    fn console_write(&self, bytes: &[u8]) {
        self.preempt(false);
        let mut st = self.state();
        st.console.extend_from_slice(bytes);
        let current = st.cur();
        st.rec.event(tag::CONSOLE, current, 0, 0);
        st.rec.bytes(bytes);
    }

    fn param(&self, name: &str) -> Option<String> {
        self.preempt(false);
        self.state().params.get(name).cloned()
    }

    fn kernel_event(&self, event: KernelEvent<'_>) {
        let mut st = self.state();
        let current = st.cur();
        match event {
            KernelEvent::SyscallEnter(name) => {
                st.rec.event(tag::KERNEL, current, 1, 0);
                st.rec.bytes(name.as_bytes());
                if st.rec.recording() {
                    st.event(current, EventKind::SyscallEnter(name.to_string()));
                }
            }
            KernelEvent::SyscallExit(name, result) => {
                st.rec.event(tag::KERNEL, current, 2, result as u64);
                st.rec.bytes(name.as_bytes());
                if st.rec.recording() {
                    st.event(current, EventKind::SyscallExit(name.to_string(), result));
                }
            }
            KernelEvent::Mark(name, detail) => {
                st.rec.event(tag::KERNEL, current, 3, 0);
                st.rec.bytes(name.as_bytes());
                st.rec.bytes(detail.as_bytes());
                if st.rec.recording() {
                    st.event(
                        current,
                        EventKind::Mark(name.to_string(), detail.to_string()),
                    );
                }
            }
        }
    }

    fn panic(&self, message: &str) -> ! {
        let current = self.state().cur();
        if current >= OUTSIDE {
            panic!("kernel panic outside a simulated thread: {message}");
        }
        resume_unwind(Box::new(Terminate::Panic(message.to_string())))
    }

    fn exit(&self, status: i32) -> ! {
        let current = self.state().cur();
        if current >= OUTSIDE {
            panic!("kernel exit({status}) outside a simulated thread");
        }
        resume_unwind(Box::new(Terminate::Exit(status)))
    }
}

/// One simulation: configure it, spawn the first threads, run it once.
///
/// ```
/// use rumpkit_fault::{Sim, SimConfig, Strategy};
/// use rumpkit_hypercall::Hypercalls;
///
/// let sim = Sim::new(SimConfig { seed: 7, strategy: Strategy::Random, ..Default::default() });
/// let hc = sim.platform();
/// sim.spawn("client", move || {
///     let deadline = hc.clock_monotonic_ns() + 1_000;
///     hc.sleep_until(deadline);
/// });
/// let mut sim = sim;
/// let report = sim.run();
/// assert!(report.is_success());
/// assert_eq!(report.virtual_time_ns, 1_000);
/// ```
pub struct Sim {
    platform: Arc<SimPlatform>,
    seed: u64,
    ran: bool,
}

impl Sim {
    /// A new simulation. Cheap: no thread, no stack and no device storage is
    /// allocated until used.
    pub fn new(config: SimConfig) -> Sim {
        let seed = config.seed;
        let preemption = config.preemption;
        Sim {
            platform: Arc::new(SimPlatform {
                owner: thread_token(),
                preemption,
                state: ManuallyDrop::new(RefCell::new(State::new(config))),
            }),
            seed,
            ran: false,
        }
    }

    /// The platform to boot kernels on (it coerces to
    /// `Arc<dyn Hypercalls>`).
    pub fn platform(&self) -> Arc<SimPlatform> {
        self.platform.clone()
    }

    /// The platform as a trait object.
    pub fn hypercalls(&self) -> Arc<dyn Hypercalls> {
        self.platform.clone()
    }

    /// Adds a simulated thread (a test's client thread) that runs `body`
    /// when the simulation runs. Threads are numbered in creation order.
    pub fn spawn(&self, name: &str, body: impl FnOnce() + 'static) -> ThreadId {
        let mut st = self.platform.state();
        let thread = self
            .platform
            .create_thread(&mut st, Rc::from(name), Box::new(body));
        ThreadId(u64::from(thread))
    }

    /// Runs the simulation until every thread has ended or a detector stops
    /// it, then unwinds whatever is left and reports. Runs once; a second
    /// call panics.
    pub fn run(&mut self) -> RunReport {
        assert!(!self.ran, "a Sim runs once; create a new one");
        self.ran = true;
        install_panic_hook();
        let platform = &*self.platform;
        let print_panics = {
            let mut st = platform.state();
            st.running = true;
            st.apply_clock_jumps();
            st.print_panics
        };
        let previous_print = PRINT_PANICS.replace(print_panics);
        loop {
            let mut st = platform.state();
            if st.outcome.is_some() {
                break;
            }
            let thread = if st.next != NO_THREAD {
                std::mem::replace(&mut st.next, NO_THREAD)
            } else {
                if st.runnable.is_empty() {
                    if platform.advance_time(&mut st) {
                        continue;
                    }
                    if st.outcome.is_none() && st.live > 0 {
                        let graph = st.wait_for_graph();
                        st.outcome = Some(Outcome::Deadlock { graph });
                    }
                    break;
                }
                match st.decide(PointKind::Blocked) {
                    Some(thread) => thread,
                    None => break,
                }
            };
            st.current = thread;
            st.last = thread;
            let mut co = st.threads[thread as usize]
                .co
                .take()
                .expect("a runnable thread has its coroutine");
            drop(st);
            let was_inside = IN_COROUTINE.replace(true);
            let outer_thread = CURRENT_THREAD.replace(thread);
            let result = co.resume(());
            CURRENT_THREAD.set(outer_thread);
            IN_COROUTINE.set(was_inside);
            let mut st = platform.state();
            st.current = NO_THREAD;
            match result {
                CoroutineResult::Yield(()) => st.threads[thread as usize].co = Some(co),
                CoroutineResult::Return(()) => {
                    st.finish_thread(thread);
                    let size = st.stack_size;
                    drop(st);
                    give_stack(co.into_stack(), size);
                }
            }
        }
        self.teardown();
        PRINT_PANICS.set(previous_print);
        self.report()
    }

    /// Force-unwinds every coroutine still suspended (or never started) and
    /// drops pending completions, in thread creation order.
    fn teardown(&self) {
        let platform = &*self.platform;
        let (coroutines, timers, size) = {
            let mut st = platform.state();
            st.tearing_down = true;
            let coroutines: Vec<(u32, Co)> = st
                .threads
                .iter_mut()
                .enumerate()
                .filter_map(|(index, thread)| thread.co.take().map(|co| (index as u32, co)))
                .collect();
            (coroutines, std::mem::take(&mut st.timers), st.stack_size)
        };
        drop(timers);
        for (thread, mut co) in coroutines {
            platform.state().current = thread;
            let was_inside = IN_COROUTINE.replace(true);
            let outer_thread = CURRENT_THREAD.replace(thread);
            co.force_unwind();
            CURRENT_THREAD.set(outer_thread);
            IN_COROUTINE.set(was_inside);
            let mut st = platform.state();
            st.current = NO_THREAD;
            st.finish_thread(thread);
            drop(st);
            give_stack(co.into_stack(), size);
        }
        let mut st = platform.state();
        st.running = false;
    }

    fn report(&mut self) -> RunReport {
        let mut st = self.platform.state();
        let steps = st.steps;
        if let Err(Divergence(detail)) = st.scheduler.finish(steps) {
            let already = matches!(st.outcome, Some(Outcome::ReplayDiverged { .. }));
            if !already {
                let detail = match &st.outcome {
                    Some(outcome) if *outcome != Outcome::Ok => {
                        format!("{detail}; the replay ended with: {outcome}")
                    }
                    _ => detail,
                };
                st.outcome = Some(Outcome::ReplayDiverged {
                    step: steps,
                    detail,
                });
            }
        }
        let leaks = st.leaks();
        let mut outcome = st.outcome.take().unwrap_or(Outcome::Ok);
        if outcome == Outcome::Ok && st.detect_leaks && !leaks.is_empty() {
            outcome = Outcome::Leak {
                leaks: leaks.clone(),
            };
        }
        let now = st.now_ns;
        st.rec.event(tag::END, NO_THREAD, outcome.code(), now);
        st.rec.word(steps);
        let trace = st.rec.events.take().map(|events| Trace {
            threads: st.threads.iter().map(|t| t.name.to_string()).collect(),
            events,
            seed: st.seed,
        });
        RunReport {
            seed: self.seed,
            outcome,
            trace_hash: st.rec.finish(),
            steps,
            virtual_time_ns: now,
            decisions: std::mem::take(&mut st.decisions),
            faults_injected: std::mem::take(&mut st.faults_injected),
            console: std::mem::take(&mut st.console),
            leaks,
            threads_created: st.threads.len() as u32,
            trace,
        }
    }

    /// The durable contents of device `name`: what survives a power cut now
    /// (writes held in the volatile cache are not in it). Mount it again
    /// with [`BlockDeviceSpec::with_image`].
    pub fn durable_image(&self, name: &str) -> Option<BlockImage> {
        let st = self.platform.state();
        let device = st.devices.iter().find(|d| &*d.name == name)?;
        Some(device.durable.clone())
    }

    /// What reads of device `name` see now (volatile cache included).
    pub fn live_image(&self, name: &str) -> Option<BlockImage> {
        let st = self.platform.state();
        let device = st.devices.iter().find(|d| &*d.name == name)?;
        Some(device.live_image())
    }

    /// Virtual time now.
    pub fn now_ns(&self) -> u64 {
        self.platform.state().now_ns
    }
}

/// The simulated thread running on the calling OS thread, if any: its
/// creation index as a [`ThreadId`] (the same value `thread_current` gives).
/// For code that has no platform at hand (test helpers, assertions); kernel
/// code asks `Hypercalls::thread_current`.
pub fn current_thread() -> Option<ThreadId> {
    let thread = CURRENT_THREAD.with(std::cell::Cell::get);
    (thread != u32::MAX).then_some(ThreadId(u64::from(thread)))
}

impl Drop for Sim {
    fn drop(&mut self) {
        if !self.ran && thread_token() == self.platform.owner {
            // Never run: drop the threads' bodies while the platform is
            // whole, so that their destructors may still call it.
            self.ran = true;
            self.teardown();
        }
    }
}
