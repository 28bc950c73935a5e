//! Kernel locks over the hypercall primitives: [`KMutex`], [`KRwLock`] and
//! [`KCondvar`].
//!
//! They never spin. Every wait is a hypercall (`mutex_enter`, `rw_enter`,
//! `cv_wait`), which is where the deterministic platform takes its scheduling
//! decisions, and where it sees lock names for deadlock reports. The data a
//! lock protects lives inside it, as with `std::sync::Mutex`.

use alloc::sync::Arc;
use core::cell::UnsafeCell;
use core::ops::{Deref, DerefMut};

use rumpkit_hypercall::{CondvarId, Hypercalls, MutexId, RwLockId, RwMode};

/// A mutual-exclusion lock protecting a `T`.
pub struct KMutex<T> {
    platform: Arc<dyn Hypercalls>,
    id: MutexId,
    data: UnsafeCell<T>,
}

// SAFETY: the hypercall mutex guarantees that at most one thread at a time
// holds a guard, which is the only way to reach `data`; so sharing the lock is
// as safe as sending the `T` itself.
unsafe impl<T: Send> Sync for KMutex<T> {}
// SAFETY: the lock owns its `T`; moving the lock moves the `T`.
unsafe impl<T: Send> Send for KMutex<T> {}

impl<T> KMutex<T> {
    /// A new unlocked mutex named `name` (shown in traces and deadlock graphs).
    pub fn new(platform: &Arc<dyn Hypercalls>, name: &'static str, value: T) -> KMutex<T> {
        KMutex {
            id: platform.mutex_create(name),
            platform: platform.clone(),
            data: UnsafeCell::new(value),
        }
    }

    /// Takes the lock, waiting (in the `mutex_enter` hypercall) while another
    /// thread holds it.
    pub fn lock(&self) -> KMutexGuard<'_, T> {
        self.platform.mutex_enter(self.id);
        KMutexGuard { lock: self }
    }

    /// Takes the lock if it is free.
    pub fn try_lock(&self) -> Option<KMutexGuard<'_, T>> {
        self.platform
            .mutex_try_enter(self.id)
            .then_some(KMutexGuard { lock: self })
    }

    /// The protected value, through exclusive access to the lock itself.
    pub fn get_mut(&mut self) -> &mut T {
        self.data.get_mut()
    }

    /// The hypercall handle (for condition variables).
    pub fn id(&self) -> MutexId {
        self.id
    }
}

impl<T> Drop for KMutex<T> {
    fn drop(&mut self) {
        self.platform.mutex_destroy(self.id);
    }
}

/// Proof that the current thread holds a [`KMutex`].
pub struct KMutexGuard<'a, T> {
    lock: &'a KMutex<T>,
}

impl<T> Deref for KMutexGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard exists only while this thread holds the mutex, so
        // no other reference to `data` is live.
        unsafe { &*self.lock.data.get() }
    }
}

impl<T> DerefMut for KMutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in `deref`, and `&mut self` makes this the only borrow
        // through this guard.
        unsafe { &mut *self.lock.data.get() }
    }
}

impl<T> Drop for KMutexGuard<'_, T> {
    fn drop(&mut self) {
        self.lock.platform.mutex_exit(self.lock.id);
    }
}

/// A condition variable, used with a [`KMutex`].
pub struct KCondvar {
    platform: Arc<dyn Hypercalls>,
    id: CondvarId,
}

impl KCondvar {
    /// A new condition variable named `name`.
    pub fn new(platform: &Arc<dyn Hypercalls>, name: &'static str) -> KCondvar {
        KCondvar {
            id: platform.cv_create(name),
            platform: platform.clone(),
        }
    }

    /// Releases the guard's mutex, waits for a signal and takes the mutex
    /// again. May wake spuriously: wait in a loop on the condition.
    pub fn wait<T>(&self, guard: &mut KMutexGuard<'_, T>) {
        self.platform.cv_wait(self.id, guard.lock.id);
    }

    /// Like [`KCondvar::wait`] but gives up at the monotonic `deadline_ns`;
    /// returns `false` on time-out.
    pub fn wait_until<T>(&self, guard: &mut KMutexGuard<'_, T>, deadline_ns: u64) -> bool {
        self.platform
            .cv_wait_until(self.id, guard.lock.id, deadline_ns)
    }

    /// Wakes one waiter.
    pub fn signal(&self) {
        self.platform.cv_signal(self.id);
    }

    /// Wakes every waiter.
    pub fn broadcast(&self) {
        self.platform.cv_broadcast(self.id);
    }
}

impl Drop for KCondvar {
    fn drop(&mut self) {
        self.platform.cv_destroy(self.id);
    }
}

/// A reader-writer lock protecting a `T`.
pub struct KRwLock<T> {
    platform: Arc<dyn Hypercalls>,
    id: RwLockId,
    data: UnsafeCell<T>,
}

// SAFETY: readers get `&T` only (hence `T: Sync`), a writer gets `&mut T` only
// while no reader holds the lock (hence `T: Send`); the hypercall lock
// enforces both.
unsafe impl<T: Send + Sync> Sync for KRwLock<T> {}
// SAFETY: the lock owns its `T`.
unsafe impl<T: Send> Send for KRwLock<T> {}

impl<T> KRwLock<T> {
    /// A new unlocked reader-writer lock named `name`.
    pub fn new(platform: &Arc<dyn Hypercalls>, name: &'static str, value: T) -> KRwLock<T> {
        KRwLock {
            id: platform.rw_create(name),
            platform: platform.clone(),
            data: UnsafeCell::new(value),
        }
    }

    /// Shared access.
    pub fn read(&self) -> KReadGuard<'_, T> {
        self.platform.rw_enter(self.id, RwMode::Read);
        KReadGuard { lock: self }
    }

    /// Exclusive access.
    pub fn write(&self) -> KWriteGuard<'_, T> {
        self.platform.rw_enter(self.id, RwMode::Write);
        KWriteGuard { lock: self }
    }

    /// The protected value, through exclusive access to the lock itself.
    pub fn get_mut(&mut self) -> &mut T {
        self.data.get_mut()
    }
}

impl<T> Drop for KRwLock<T> {
    fn drop(&mut self) {
        self.platform.rw_destroy(self.id);
    }
}

/// Shared access to a [`KRwLock`].
pub struct KReadGuard<'a, T> {
    lock: &'a KRwLock<T>,
}

impl<T> Deref for KReadGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: while a read guard lives no writer holds the lock, so only
        // shared references to `data` exist.
        unsafe { &*self.lock.data.get() }
    }
}

impl<T> Drop for KReadGuard<'_, T> {
    fn drop(&mut self) {
        self.lock.platform.rw_exit(self.lock.id);
    }
}

/// Exclusive access to a [`KRwLock`].
pub struct KWriteGuard<'a, T> {
    lock: &'a KRwLock<T>,
}

impl<T> Deref for KWriteGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the write guard is the only access to `data` while it lives.
        unsafe { &*self.lock.data.get() }
    }
}

impl<T> DerefMut for KWriteGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the write guard is the only access to `data` while it lives.
        unsafe { &mut *self.lock.data.get() }
    }
}

impl<T> Drop for KWriteGuard<'_, T> {
    fn drop(&mut self) {
        self.lock.platform.rw_exit(self.lock.id);
    }
}
