//! Callouts: functions that run once, on a kernel thread, when the platform's
//! monotonic clock reaches their deadline (NetBSD's `callout(9)`).
//!
//! Each kernel has one callout thread, started on the first
//! [`Kernel::callout_schedule`] so that a boot stays cheap. It sleeps in
//! `cv_wait_until` on the earliest deadline (on the deterministic platform
//! that is a virtual-time event) and runs due callouts in deadline order;
//! callouts with equal deadlines run in the order they were scheduled. A
//! callout runs without the callout lock held, so it may schedule or stop
//! callouts itself.
//!
//! The thread holds only the callout state ([`Arc<CalloutShared>`]), never
//! the kernel, so that halt can free the kernel. At halt the pending callouts
//! are dropped unrun and the thread is told to stop; the thread registry
//! then joins it.

use alloc::sync::Arc;

use rumpkit_hypercall::Hypercalls;

use crate::errno::{Errno, KResult};
use crate::kernel::Kernel;
use crate::kmem::{KAlloc, KBox, KVec, TryPush};
use crate::sync::{KCondvar, KMutex};
use crate::thread::ThreadRegistry;

/// Names a scheduled callout, for [`Kernel::callout_stop`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CalloutId(pub u64);

type CalloutFn = KBox<dyn FnMut() + Send>;

struct Pending {
    deadline_ns: u64,
    id: CalloutId,
    /// Runs the callout's function once; later calls do nothing.
    run: CalloutFn,
}

struct CalloutState {
    /// Sorted by deadline, then by id (the scheduling order).
    pending: KVec<Pending>,
    next_id: u64,
    thread_started: bool,
    stopping: bool,
}

/// The part of the callout machinery the callout thread shares.
pub(crate) struct CalloutShared {
    platform: Arc<dyn Hypercalls>,
    alloc: KAlloc,
    state: KMutex<CalloutState>,
    changed: KCondvar,
}

impl CalloutShared {
    pub(crate) fn new(platform: &Arc<dyn Hypercalls>, alloc: KAlloc) -> CalloutShared {
        CalloutShared {
            platform: platform.clone(),
            state: KMutex::new(
                platform,
                "callout",
                CalloutState {
                    pending: alloc.vec(),
                    next_id: 1,
                    thread_started: false,
                    stopping: false,
                },
            ),
            changed: KCondvar::new(platform, "callout.changed"),
            alloc,
        }
    }

    fn schedule(
        self: &Arc<Self>,
        threads: &Arc<ThreadRegistry>,
        delay_ns: u64,
        f: impl FnOnce() + Send + 'static,
    ) -> KResult<CalloutId> {
        let mut once = Some(f);
        let boxed = self.alloc.try_box(move || {
            if let Some(f) = once.take() {
                f();
            }
        })?;
        let run: CalloutFn = allocator_api2::unsize_box!(boxed);
        let mut state = self.state.lock();
        if state.stopping {
            return Err(Errno::EAGAIN);
        }
        if !state.thread_started {
            let shared = self.clone();
            threads.spawn("callout", move || shared.run_thread())?;
            state.thread_started = true;
        }
        let deadline_ns = self.platform.clock_monotonic_ns().saturating_add(delay_ns);
        let id = CalloutId(state.next_id);
        let index = state
            .pending
            .partition_point(|pending| pending.deadline_ns <= deadline_ns);
        state.pending.try_insert(
            index,
            Pending {
                deadline_ns,
                id,
                run,
            },
        )?;
        state.next_id += 1;
        if index == 0 {
            // A new earliest deadline: the thread sleeps until the old one.
            self.changed.signal();
        }
        Ok(id)
    }

    fn stop_one(&self, id: CalloutId) -> bool {
        let mut state = self.state.lock();
        match state.pending.iter().position(|pending| pending.id == id) {
            Some(index) => {
                let pending = state.pending.remove(index);
                drop(state);
                drop(pending);
                true
            }
            None => false,
        }
    }

    /// Drops every pending callout and tells the thread to end.
    pub(crate) fn stop_all(&self) {
        let pending = {
            let mut state = self.state.lock();
            state.stopping = true;
            self.changed.broadcast();
            core::mem::replace(&mut state.pending, self.alloc.vec())
        };
        // Dropped without the lock: a callout's captures may do anything.
        drop(pending);
    }

    fn run_thread(&self) {
        let mut state = self.state.lock();
        loop {
            if state.stopping {
                return;
            }
            let Some(first) = state.pending.first() else {
                self.changed.wait(&mut state);
                continue;
            };
            let deadline_ns = first.deadline_ns;
            if self.platform.clock_monotonic_ns() < deadline_ns {
                self.changed.wait_until(&mut state, deadline_ns);
                continue;
            }
            let mut due = state.pending.remove(0);
            drop(state);
            (due.run)();
            drop(due);
            state = self.state.lock();
        }
    }

    fn pending_count(&self) -> usize {
        self.state.lock().pending.len()
    }
}

impl Kernel {
    /// Runs `f` once on the kernel's callout thread when `delay_ns`
    /// nanoseconds have passed on the platform's monotonic clock. `ENOMEM`
    /// when the callout cannot be stored, `EAGAIN` when the callout thread
    /// cannot be started or the kernel is halting.
    pub fn callout_schedule(
        &self,
        delay_ns: u64,
        f: impl FnOnce() + Send + 'static,
    ) -> KResult<CalloutId> {
        self.callouts.schedule(&self.threads, delay_ns, f)
    }

    /// Cancels a pending callout. `true` if it was pending and now will not
    /// run; `false` if it has run, is running, or was stopped before.
    pub fn callout_stop(&self, id: CalloutId) -> bool {
        self.callouts.stop_one(id)
    }

    /// How many callouts are waiting for their deadline.
    pub fn callout_pending(&self) -> usize {
        self.callouts.pending_count()
    }
}
