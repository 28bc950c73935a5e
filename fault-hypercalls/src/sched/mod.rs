//! Scheduling strategies: who runs next at a scheduling point.
//!
//! The simulator reaches a scheduling point at every blocking hypercall
//! (a contended `mutex_enter`, `rw_enter`, `cv_wait*`, `sleep_until`,
//! `thread_join`, `thread_yield`) and, if the run asks for it, at preemption
//! points (every lock operation, or every hypercall). There it asks its
//! [`Scheduler`] to pick one of the runnable threads and records the answer;
//! the recorded list replays the run ([`Strategy::Replay`]).
//!
//! Threads are named by their creation index (the first thread is 0), which
//! is what every strategy sees and records: never an address, never a host
//! thread id.

mod pct;
mod random;
mod replay;
mod round_robin;

pub use pct::PctScheduler;
pub use random::RandomScheduler;
pub use replay::ReplayScheduler;
pub use round_robin::RoundRobinScheduler;

/// Why the simulator is asking for a decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PointKind {
    /// An optional preemption point: the last thread is still runnable and
    /// did not ask to give up the processor.
    Preempt,
    /// The last thread called `thread_yield`: it stays runnable but asks that
    /// others go first.
    Yield,
    /// The last thread blocked or ended (or the run is starting): it is not
    /// among the runnable ones.
    Blocked,
}

/// What a scheduler sees at a scheduling point.
#[derive(Debug)]
pub struct SchedulePoint<'a> {
    /// The runnable threads, by creation index, in increasing order. Never
    /// empty.
    pub runnable: &'a [u32],
    /// The thread that ran last, if any (it may or may not be runnable).
    pub last: Option<u32>,
    /// Why a decision is needed.
    pub kind: PointKind,
    /// How many decisions were taken before this one.
    pub step: u64,
}

impl SchedulePoint<'_> {
    /// Whether the last thread is runnable.
    pub fn last_is_runnable(&self) -> bool {
        self.last
            .is_some_and(|last| self.runnable.binary_search(&last).is_ok())
    }
}

/// A replay that cannot go on as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Divergence(pub String);

/// A scheduling strategy.
pub trait Scheduler {
    /// A short name for reports ("pct", "random", ...).
    fn name(&self) -> &'static str;

    /// A thread was created (its index is the number of threads created
    /// before it).
    fn thread_created(&mut self, thread: u32) {
        let _ = thread;
    }

    /// Picks one of `point.runnable`.
    fn pick(&mut self, point: &SchedulePoint<'_>) -> Result<u32, Divergence>;

    /// The run ended; a replay with decisions left over reports it here.
    fn finish(&mut self, steps: u64) -> Result<(), Divergence> {
        let _ = steps;
        Ok(())
    }
}

/// Which [`Scheduler`] a run uses. Every strategy but `Replay` draws from the
/// run's seed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Strategy {
    /// Cooperative round-robin: a thread runs until it blocks or yields, then
    /// the next thread in creation order runs. Preemption points are ignored,
    /// so this is the "naive test" baseline that finds few races.
    #[default]
    RoundRobin,
    /// A uniformly random runnable thread at every scheduling point (except
    /// that a yielding thread lets another go first).
    Random,
    /// Probabilistic concurrency testing (Burckhardt et al., ASPLOS 2010):
    /// random thread priorities, the highest-priority runnable thread runs,
    /// and at `depth - 1` random steps within the first `expected_steps`
    /// decisions the running thread drops to the lowest priority. Finds a
    /// bug of depth `d` with probability at least `1 / (n * k^(d-1))`.
    Pct {
        /// The bug depth to aim for (at least 1).
        depth: u32,
        /// How many decisions a run is expected to take; the change points
        /// are drawn from this range.
        expected_steps: u64,
    },
    /// Replays a recorded decision list ([`crate::RunReport::decisions`]).
    /// Ends the run with `Outcome::ReplayDiverged` when a recorded thread is
    /// not runnable, when the list runs out, or when it has decisions left
    /// at the end.
    Replay(Vec<u32>),
}

impl Strategy {
    /// PCT with the given depth and a default horizon of 100 decisions.
    pub fn pct(depth: u32) -> Strategy {
        Strategy::Pct {
            depth,
            expected_steps: 100,
        }
    }

    /// A short name for reports.
    pub fn name(&self) -> &'static str {
        match self {
            Strategy::RoundRobin => "round-robin",
            Strategy::Random => "random",
            Strategy::Pct { .. } => "pct",
            Strategy::Replay(_) => "replay",
        }
    }

    pub(crate) fn build(&self, seed: u64) -> Box<dyn Scheduler> {
        match self {
            Strategy::RoundRobin => Box::new(RoundRobinScheduler::new()),
            Strategy::Random => Box::new(RandomScheduler::new(seed)),
            Strategy::Pct {
                depth,
                expected_steps,
            } => Box::new(PctScheduler::new(seed, *depth, *expected_steps)),
            Strategy::Replay(decisions) => Box::new(ReplayScheduler::new(decisions.clone())),
        }
    }
}
