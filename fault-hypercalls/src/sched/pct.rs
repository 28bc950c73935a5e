//! PCT: probabilistic concurrency testing with a depth bound.

use super::{Divergence, PointKind, SchedulePoint, Scheduler};
use crate::rng::Rng;

/// Random priorities, highest runnable priority runs; at `depth - 1` change
/// points (steps drawn from `1..=expected_steps`) the running thread's
/// priority drops below every initial priority.
///
/// Initial priorities are at least `depth`; the i-th change point assigns
/// priority `depth - 1 - i`, so later change points push lower still. A
/// yielding thread is passed over when another thread can run (otherwise a
/// high-priority spin-and-yield loop would never let its peer move).
#[derive(Debug)]
pub struct PctScheduler {
    rng: Rng,
    depth: u64,
    priorities: Vec<u64>,
    change_points: Vec<u64>,
    changes_done: u64,
}

impl PctScheduler {
    /// A PCT scheduler drawing from the run seed's "schedule.pct" stream.
    pub fn new(seed: u64, depth: u32, expected_steps: u64) -> PctScheduler {
        let mut rng = Rng::stream(seed, "schedule.pct");
        let depth = u64::from(depth.max(1));
        let horizon = expected_steps.max(1);
        let mut change_points: Vec<u64> = (1..depth).map(|_| rng.between(1, horizon)).collect();
        change_points.sort_unstable();
        PctScheduler {
            rng,
            depth,
            priorities: Vec::new(),
            change_points,
            changes_done: 0,
        }
    }

    fn priority(&self, thread: u32) -> u64 {
        self.priorities.get(thread as usize).copied().unwrap_or(0)
    }

    fn best(&self, candidates: impl Iterator<Item = u32>) -> Option<u32> {
        // Highest priority wins; ties (practically impossible) go to the
        // older thread.
        candidates.fold(None, |best: Option<u32>, thread| match best {
            Some(b) if self.priority(b) >= self.priority(thread) => Some(b),
            _ => Some(thread),
        })
    }
}

impl Scheduler for PctScheduler {
    fn name(&self) -> &'static str {
        "pct"
    }

    fn thread_created(&mut self, thread: u32) {
        let index = thread as usize;
        if self.priorities.len() <= index {
            self.priorities.resize(index + 1, 0);
        }
        // A random priority above every change-point priority.
        self.priorities[index] = self.depth + (self.rng.next_u64() >> 2);
    }

    fn pick(&mut self, point: &SchedulePoint<'_>) -> Result<u32, Divergence> {
        let step = point.step + 1;
        while let Some(&change) = self.change_points.first() {
            if change > step {
                break;
            }
            self.change_points.remove(0);
            if let Some(last) = point.last {
                let lowered = self.depth - 1 - self.changes_done.min(self.depth - 1);
                if let Some(priority) = self.priorities.get_mut(last as usize) {
                    *priority = lowered;
                }
            }
            self.changes_done += 1;
        }
        let runnable = point.runnable;
        if runnable.len() == 1 {
            return Ok(runnable[0]);
        }
        let skip = if point.kind == PointKind::Yield {
            point.last
        } else {
            None
        };
        let pick = self
            .best(runnable.iter().copied().filter(|&t| Some(t) != skip))
            .unwrap_or(runnable[0]);
        Ok(pick)
    }
}
