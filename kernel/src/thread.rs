//! Kernel threads: asynchronous work inside a kernel (callouts, daemons),
//! each one a platform thread from the `thread_create` hypercall.
//!
//! The kernel keeps a registry of the threads it started and has not joined
//! yet. [`KThread::join`] joins one; [`Kernel::halt`] joins every one still
//! registered, after the factions and the callouts have been told to stop, so
//! that no thread of a halted kernel outlives it. Whoever removes a thread
//! from the registry joins it — the registry's lock decides — so a thread is
//! joined exactly once even if its handle and halt race.
//!
//! A thread must not keep an `Arc<Kernel>` beyond the point where it is asked
//! to stop: halt can only free the kernel once every other reference is gone.
//! Kernel subsystems therefore give their threads only the pieces they need
//! (an `Arc` of the subsystem's own state), as the callout thread does.

use alloc::boxed::Box;
use alloc::sync::Arc;

use rumpkit_hypercall::{Hypercalls, ThreadId};

use crate::errno::{Errno, KResult};
use crate::kernel::Kernel;
use crate::kmem::{KAlloc, KVec};
use crate::sync::KMutex;

/// The threads a kernel started and has not joined.
pub(crate) struct ThreadRegistry {
    platform: Arc<dyn Hypercalls>,
    alloc: KAlloc,
    running: KMutex<KVec<ThreadId>>,
}

impl ThreadRegistry {
    pub(crate) fn new(platform: &Arc<dyn Hypercalls>, alloc: KAlloc) -> ThreadRegistry {
        ThreadRegistry {
            platform: platform.clone(),
            running: KMutex::new(platform, "kthread.registry", alloc.vec()),
            alloc,
        }
    }

    /// Starts `entry` as a new registered thread.
    pub(crate) fn spawn(
        self: &Arc<Self>,
        name: &str,
        entry: impl FnOnce() + Send + 'static,
    ) -> KResult<KThread> {
        let mut running = self.running.lock();
        // Make room first: once the thread runs, it must be registered.
        running.try_reserve(1).map_err(|_| Errno::ENOMEM)?;
        let id = self
            .platform
            .thread_create(name, Box::new(entry))
            .map_err(|_| Errno::EAGAIN)?;
        running.push(id);
        Ok(KThread {
            registry: self.clone(),
            id,
        })
    }

    /// Joins `id` if it is still registered; `false` if someone else did.
    fn join(&self, id: ThreadId) -> bool {
        let removed = {
            let mut running = self.running.lock();
            match running.iter().position(|thread| *thread == id) {
                Some(index) => {
                    running.swap_remove(index);
                    true
                }
                None => false,
            }
        };
        if removed {
            self.platform.thread_join(id);
        }
        removed
    }

    /// Joins every registered thread except the caller (halt may run on a
    /// kernel thread), then frees the registry's memory.
    pub(crate) fn join_all(&self) {
        let me = self.platform.thread_current();
        loop {
            let next = {
                let mut running = self.running.lock();
                let index = running.iter().position(|thread| *thread != me);
                index.map(|index| running.swap_remove(index))
            };
            match next {
                Some(id) => self.platform.thread_join(id),
                None => break,
            }
        }
        let mut running = self.running.lock();
        if running.is_empty() {
            // Give the memory back before halt reads the books.
            *running = self.alloc.vec();
        }
    }

    pub(crate) fn count(&self) -> usize {
        self.running.lock().len()
    }
}

/// A kernel thread started by [`Kernel::kthread_create`]. Dropping the handle
/// detaches the thread; halt still joins it.
pub struct KThread {
    registry: Arc<ThreadRegistry>,
    id: ThreadId,
}

impl KThread {
    /// The platform's id of the thread.
    pub fn id(&self) -> ThreadId {
        self.id
    }

    /// Waits until the thread has ended. Returns at once if halt joined it
    /// already.
    pub fn join(self) {
        self.registry.join(self.id);
    }
}

impl core::fmt::Debug for KThread {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("KThread").field("id", &self.id).finish()
    }
}

impl Kernel {
    /// Starts a kernel thread named `name` running `entry`. `EAGAIN` when the
    /// platform refuses to create a thread, `ENOMEM` when the registry cannot
    /// grow. The thread is joined at halt if nobody joined it before.
    pub fn kthread_create(
        &self,
        name: &str,
        entry: impl FnOnce() + Send + 'static,
    ) -> KResult<KThread> {
        self.threads.spawn(name, entry)
    }

    /// How many kernel threads are running (started and not joined).
    pub fn kthread_count(&self) -> usize {
        self.threads.count()
    }
}
