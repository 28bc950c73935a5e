//! The block-device switch: the [`BlockDriver`] trait block drivers
//! implement, and the split-phase request/completion pair between the buffer
//! cache and a driver.
//!
//! A request is started with [`BlockDriver::strategy`], which returns at once;
//! the driver completes it later — typically from the platform's block-I/O
//! completion callback — with [`BlockDone::complete`], handing the buffer back
//! whatever the result (split-phase, as in Tock, and as `biodone` in NetBSD).
//! The buffer cache waits for the completion in a condition variable
//! (`biowait`), never spinning. A [`BlockDone`] that is dropped without being
//! completed completes its request with `EIO`, so a buggy driver cannot hang
//! the kernel.

use alloc::sync::Arc;

use rumpkit_hypercall::Hypercalls;

use crate::errno::{Errno, KResult};
use crate::kmem::{KAlloc, KVec, TryPush};
use crate::sync::{KCondvar, KMutex};

/// What a block request does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BlockOp {
    /// Fill `buf` (its whole length) from the device at `offset`.
    Read,
    /// Write all of `buf` to the device at `offset`.
    Write,
    /// Make completed writes durable; `buf` is empty and `offset` 0.
    Flush,
}

/// One request to a block driver. `offset` and `buf.len()` are multiples of
/// the device's block size and lie within the device; the dev faction
/// guarantees it.
pub struct BlockRequest {
    /// What to do.
    pub op: BlockOp,
    /// Byte offset on the device.
    pub offset: u64,
    /// For a read, a buffer of the length to read; for a write, the bytes to
    /// write; empty for a flush.
    pub buf: KVec<u8>,
}

/// The shape of a block device, given when it is registered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockGeometry {
    /// The size in bytes, a multiple of `block_size`.
    pub size_bytes: u64,
    /// The block size: a power of two, at least 512.
    pub block_size: u32,
    /// Writes are refused with `EROFS`.
    pub read_only: bool,
}

/// A block driver's side of the block-device switch (NetBSD's `bdevsw`).
pub trait BlockDriver: Send + Sync {
    /// Starts `request` and returns at once; completes it later, exactly once,
    /// with `done` (from any thread, or from inside this call).
    fn strategy(&self, request: BlockRequest, done: BlockDone);

    /// The device is being detached at halt, after its last request
    /// completed; release platform resources (close the backing device).
    fn detach(&self) {}
}

struct Slot {
    token: u64,
    result: Option<(Option<KVec<u8>>, KResult<usize>)>,
}

struct Slots {
    next_token: u64,
    slots: KVec<Slot>,
}

/// Where completions meet their waiters: one table per dev faction.
pub(crate) struct IoShared {
    state: KMutex<Slots>,
    done: KCondvar,
    alloc: KAlloc,
}

impl IoShared {
    pub(crate) fn new(platform: &Arc<dyn Hypercalls>, alloc: KAlloc) -> IoShared {
        IoShared {
            state: KMutex::new(
                platform,
                "biodone",
                Slots {
                    next_token: 1,
                    slots: alloc.vec(),
                },
            ),
            done: KCondvar::new(platform, "biowait"),
            alloc,
        }
    }

    /// Runs one request on `driver` and waits for its completion: the buffer
    /// (if the driver handed it back) and the result.
    pub(crate) fn run(
        self: &Arc<Self>,
        driver: &dyn BlockDriver,
        op: BlockOp,
        offset: u64,
        buf: KVec<u8>,
    ) -> (Option<KVec<u8>>, KResult<usize>) {
        let token = {
            let mut state = self.state.lock();
            let token = state.next_token;
            if let Err(errno) = state.slots.try_push(Slot {
                token,
                result: None,
            }) {
                return (Some(buf), Err(errno));
            }
            state.next_token += 1;
            token
        };
        driver.strategy(
            BlockRequest { op, offset, buf },
            BlockDone {
                shared: Some(self.clone()),
                token,
            },
        );
        let mut state = self.state.lock();
        loop {
            let index = state
                .slots
                .iter()
                .position(|slot| slot.token == token)
                .expect("a request's slot stays until its waiter takes it");
            if state.slots[index].result.is_some() {
                let slot = state.slots.swap_remove(index);
                if state.slots.is_empty() && state.slots.capacity() > 16 {
                    state.slots = self.alloc.vec();
                }
                return slot.result.expect("checked above");
            }
            self.done.wait(&mut state);
        }
    }

    fn finish(&self, token: u64, buf: Option<KVec<u8>>, result: KResult<usize>) {
        let mut state = self.state.lock();
        if let Some(slot) = state.slots.iter_mut().find(|slot| slot.token == token) {
            slot.result = Some((buf, result));
        }
        self.done.broadcast();
    }

    /// Frees the table's memory (at halt, when nothing is in flight).
    pub(crate) fn release_memory(&self) {
        let mut state = self.state.lock();
        if state.slots.is_empty() {
            state.slots = self.alloc.vec();
        }
    }
}

/// The completion handle of one [`BlockRequest`] (NetBSD's `biodone`).
pub struct BlockDone {
    shared: Option<Arc<IoShared>>,
    token: u64,
}

impl BlockDone {
    /// Completes the request: hands the buffer back, with the number of bytes
    /// transferred or the reason for failure (`EIO`, `ENOMEM`, ...).
    pub fn complete(mut self, buf: KVec<u8>, result: KResult<usize>) {
        if let Some(shared) = self.shared.take() {
            shared.finish(self.token, Some(buf), result);
        }
    }
}

impl Drop for BlockDone {
    fn drop(&mut self) {
        if let Some(shared) = self.shared.take() {
            shared.finish(self.token, None, Err(Errno::EIO));
        }
    }
}

impl core::fmt::Debug for BlockDone {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("BlockDone")
            .field("token", &self.token)
            .finish()
    }
}
