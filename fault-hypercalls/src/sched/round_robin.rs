//! Cooperative round-robin: the deterministic baseline.

use super::{Divergence, PointKind, SchedulePoint, Scheduler};

/// Runs a thread until it blocks or yields, then the next one in creation
/// order (wrapping around). Ignores preemption points.
#[derive(Debug, Default)]
pub struct RoundRobinScheduler;

impl RoundRobinScheduler {
    /// A new round-robin scheduler.
    pub fn new() -> RoundRobinScheduler {
        RoundRobinScheduler
    }
}

impl Scheduler for RoundRobinScheduler {
    fn name(&self) -> &'static str {
        "round-robin"
    }

    fn pick(&mut self, point: &SchedulePoint<'_>) -> Result<u32, Divergence> {
        let runnable = point.runnable;
        let Some(last) = point.last else {
            return Ok(runnable[0]);
        };
        if point.kind == PointKind::Preempt && point.last_is_runnable() {
            return Ok(last);
        }
        // The first runnable thread created after `last`, else wrap around.
        let next = match runnable.binary_search(&last) {
            Ok(index) => index + 1,
            Err(index) => index,
        };
        Ok(*runnable.get(next).unwrap_or(&runnable[0]))
    }
}
