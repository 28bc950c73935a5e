//! Replay of a recorded decision list.

use super::{Divergence, SchedulePoint, Scheduler};

/// Replays decisions recorded by an earlier run. Refuses to go on (a
/// [`Divergence`]) when the recorded thread is not runnable or the record
/// runs out, and reports decisions left over at the end.
#[derive(Debug)]
pub struct ReplayScheduler {
    decisions: Vec<u32>,
    position: usize,
}

impl ReplayScheduler {
    /// A scheduler replaying `decisions`.
    pub fn new(decisions: Vec<u32>) -> ReplayScheduler {
        ReplayScheduler {
            decisions,
            position: 0,
        }
    }
}

impl Scheduler for ReplayScheduler {
    fn name(&self) -> &'static str {
        "replay"
    }

    fn pick(&mut self, point: &SchedulePoint<'_>) -> Result<u32, Divergence> {
        let Some(&thread) = self.decisions.get(self.position) else {
            return Err(Divergence(format!(
                "the recorded schedule ends after {} decisions but the run needs more \
                 (runnable threads: {:?})",
                self.decisions.len(),
                point.runnable
            )));
        };
        if point.runnable.binary_search(&thread).is_err() {
            return Err(Divergence(format!(
                "decision {}: recorded thread {thread} is not runnable (runnable threads: {:?})",
                self.position, point.runnable
            )));
        }
        self.position += 1;
        Ok(thread)
    }

    fn finish(&mut self, _steps: u64) -> Result<(), Divergence> {
        if self.position < self.decisions.len() {
            return Err(Divergence(format!(
                "the run ended after {} decisions but the recorded schedule has {}",
                self.position,
                self.decisions.len()
            )));
        }
        Ok(())
    }
}
