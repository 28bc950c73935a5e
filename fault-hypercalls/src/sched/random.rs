//! Uniformly random scheduling.

use super::{Divergence, PointKind, SchedulePoint, Scheduler};
use crate::rng::Rng;

/// Picks a uniformly random runnable thread at every scheduling point. At a
/// `thread_yield` the yielding thread is left out when others can run, so that
/// spin-and-yield loops make progress.
#[derive(Debug)]
pub struct RandomScheduler {
    rng: Rng,
}

impl RandomScheduler {
    /// A random scheduler drawing from the run seed's "schedule" stream.
    pub fn new(seed: u64) -> RandomScheduler {
        RandomScheduler {
            rng: Rng::stream(seed, "schedule.random"),
        }
    }
}

impl Scheduler for RandomScheduler {
    fn name(&self) -> &'static str {
        "random"
    }

    fn pick(&mut self, point: &SchedulePoint<'_>) -> Result<u32, Divergence> {
        let runnable = point.runnable;
        if runnable.len() == 1 {
            return Ok(runnable[0]);
        }
        if point.kind == PointKind::Yield {
            if let Some(Ok(skip)) = point.last.map(|last| runnable.binary_search(&last)) {
                let mut index = self.rng.below(runnable.len() as u64 - 1) as usize;
                if index >= skip {
                    index += 1;
                }
                return Ok(runnable[index]);
            }
        }
        Ok(runnable[self.rng.below(runnable.len() as u64) as usize])
    }
}
