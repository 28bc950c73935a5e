//! The buffer cache: a bounded set of device buffers with write-back.
//!
//! Every block device is read and written through buffers of
//! `max(block size, 4096)` bytes (the last buffer of a device may be
//! shorter). A buffer is *busy* while one thread owns it (NetBSD's `B_BUSY`):
//! others wait on the cache's condition variable. I/O runs with the cache lock
//! released; the busy flag alone keeps the buffer's data private meanwhile.
//!
//! Writes are delayed: they dirty the buffer, which goes to the device on
//! [`BufCache::flush`] (sync, fsync, halt) or when it is evicted. Replacement
//! is deterministic: the least recently released clean buffer first, else
//! the least recently released dirty one (written back first). If a
//! write-back on eviction fails, the data is lost, as with any delayed write,
//! and the device remembers the error for its next flush, which answers `EIO`.

use alloc::sync::Arc;
use core::sync::atomic::Ordering;

use rumpkit_hypercall::Hypercalls;

use super::block::{BlockOp, IoShared};
use super::{BdevId, Device};
use crate::errno::{Errno, KResult};
use crate::kmem::{try_resize_zeroed, KAlloc, KVec, TryPush};
use crate::sync::{KCondvar, KMutex};

/// The smallest buffer size; devices with larger blocks use their block size.
pub const BUFFER_SIZE_MIN: usize = 4096;
/// How many buffers a dev faction keeps at most, unless the `dev.buffers`
/// parameter says otherwise.
pub const BUFFER_COUNT_DEFAULT: usize = 64;

struct Buf {
    dev: BdevId,
    index: u64,
    data: KVec<u8>,
    valid: bool,
    dirty: bool,
    busy: bool,
    stamp: u64,
}

struct CacheState {
    bufs: KVec<Buf>,
    clock: u64,
}

pub(crate) struct BufCache {
    alloc: KAlloc,
    capacity: usize,
    state: KMutex<CacheState>,
    changed: KCondvar,
}

/// The buffer size for a device.
pub(crate) fn buffer_size(device: &Device) -> u64 {
    (device.geometry.block_size as u64).max(BUFFER_SIZE_MIN as u64)
}

/// The length of buffer `index` of `device`.
fn buffer_len(device: &Device, index: u64) -> usize {
    let size = buffer_size(device);
    let start = index * size;
    size.min(device.geometry.size_bytes - start) as usize
}

impl BufCache {
    pub(crate) fn new(platform: &Arc<dyn Hypercalls>, alloc: KAlloc, capacity: usize) -> BufCache {
        BufCache {
            state: KMutex::new(
                platform,
                "bufcache",
                CacheState {
                    bufs: alloc.vec(),
                    clock: 0,
                },
            ),
            changed: KCondvar::new(platform, "bufcache.busy"),
            alloc,
            capacity: capacity.max(1),
        }
    }

    /// Writes back a busy buffer the caller owns, with the lock released.
    fn write_back(&self, io: &Arc<IoShared>, devices: &[Device], slot: usize) -> KResult<()> {
        let (dev, index, data) = {
            let mut state = self.state.lock();
            let buf = &mut state.bufs[slot];
            debug_assert!(buf.busy && buf.dirty);
            let data = core::mem::replace(&mut buf.data, self.alloc.vec());
            (buf.dev, buf.index, data)
        };
        let device = &devices[dev.0 as usize];
        let (data, result) = io.run(
            &*device.driver,
            BlockOp::Write,
            index * buffer_size(device),
            data,
        );
        let mut state = self.state.lock();
        let buf = &mut state.bufs[slot];
        match data {
            Some(data) => buf.data = data,
            None => buf.valid = false,
        }
        if result.is_ok() {
            buf.dirty = false;
        }
        result.map(|_| ())
    }

    /// Takes buffer (`device`, `index`) busy, evicting another if needed; the
    /// buffer may not be valid yet.
    fn get(
        &self,
        io: &Arc<IoShared>,
        devices: &[Device],
        device: &Device,
        index: u64,
    ) -> KResult<usize> {
        let mut state = self.state.lock();
        loop {
            if let Some(slot) = state
                .bufs
                .iter()
                .position(|buf| buf.dev == device.id && buf.index == index)
            {
                if state.bufs[slot].busy {
                    self.changed.wait(&mut state);
                    continue;
                }
                state.bufs[slot].busy = true;
                return Ok(slot);
            }
            if state.bufs.len() < self.capacity {
                state.bufs.try_push(Buf {
                    dev: device.id,
                    index,
                    data: self.alloc.vec(),
                    valid: false,
                    dirty: false,
                    busy: true,
                    stamp: 0,
                })?;
                return Ok(state.bufs.len() - 1);
            }
            // Least recently used clean buffer, else dirty; stamps are unique.
            let victim = state
                .bufs
                .iter()
                .enumerate()
                .filter(|(_, buf)| !buf.busy)
                .min_by_key(|(_, buf)| (buf.dirty, buf.stamp))
                .map(|(slot, _)| slot);
            let Some(victim) = victim else {
                self.changed.wait(&mut state);
                continue;
            };
            state.bufs[victim].busy = true;
            if state.bufs[victim].dirty {
                drop(state);
                if self.write_back(io, devices, victim).is_err() {
                    let owner = self.state.lock().bufs[victim].dev;
                    devices[owner.0 as usize]
                        .write_error
                        .store(true, Ordering::Relaxed);
                }
                state = self.state.lock();
                // The buffer may have been looked for meanwhile; retry from
                // the top if someone else brought (device, index) in.
                if state
                    .bufs
                    .iter()
                    .any(|buf| buf.dev == device.id && buf.index == index)
                {
                    let buf = &mut state.bufs[victim];
                    buf.dirty = false;
                    buf.valid = false;
                    buf.busy = false;
                    self.changed.broadcast();
                    continue;
                }
            }
            let buf = &mut state.bufs[victim];
            buf.dev = device.id;
            buf.index = index;
            buf.valid = false;
            buf.dirty = false;
            return Ok(victim);
        }
    }

    /// Makes a busy buffer valid by reading it from the device.
    fn fill(&self, io: &Arc<IoShared>, device: &Device, slot: usize) -> KResult<()> {
        let (index, mut data) = {
            let mut state = self.state.lock();
            let buf = &mut state.bufs[slot];
            if buf.valid {
                return Ok(());
            }
            (
                buf.index,
                core::mem::replace(&mut buf.data, self.alloc.vec()),
            )
        };
        let length = buffer_len(device, index);
        data.truncate(length);
        let resized = try_resize_zeroed(&mut data, length);
        let (data, result) = match resized {
            Ok(()) => io.run(
                &*device.driver,
                BlockOp::Read,
                index * buffer_size(device),
                data,
            ),
            Err(errno) => (Some(data), Err(errno)),
        };
        let mut state = self.state.lock();
        let buf = &mut state.bufs[slot];
        if let Some(data) = data {
            buf.data = data;
        }
        let ok = matches!(result, Ok(count) if count == length) && buf.data.len() == length;
        buf.valid = ok;
        match result {
            Ok(_) if ok => Ok(()),
            Ok(_) => Err(Errno::EIO),
            Err(errno) => Err(errno),
        }
    }

    /// Ends the caller's ownership of a busy buffer.
    fn release(&self, slot: usize) {
        let mut state = self.state.lock();
        state.clock += 1;
        let clock = state.clock;
        let buf = &mut state.bufs[slot];
        buf.busy = false;
        buf.stamp = clock;
        if !buf.valid {
            buf.dirty = false;
        }
        self.changed.broadcast();
    }

    /// Reads `buf.len()` bytes at `offset` (already clipped to the device).
    pub(crate) fn read(
        &self,
        io: &Arc<IoShared>,
        devices: &[Device],
        device: &Device,
        offset: u64,
        out: &mut [u8],
    ) -> KResult<()> {
        let size = buffer_size(device);
        let mut done = 0usize;
        while done < out.len() {
            let position = offset + done as u64;
            let index = position / size;
            let within = (position % size) as usize;
            let slot = self.get(io, devices, device, index)?;
            if let Err(errno) = self.fill(io, device, slot) {
                self.release(slot);
                return Err(errno);
            }
            {
                let state = self.state.lock();
                let data = &state.bufs[slot].data;
                let count = (data.len() - within).min(out.len() - done);
                out[done..done + count].copy_from_slice(&data[within..within + count]);
                done += count;
            }
            self.release(slot);
        }
        Ok(())
    }

    /// Writes `data` at `offset` (already clipped to the device), delayed.
    pub(crate) fn write(
        &self,
        io: &Arc<IoShared>,
        devices: &[Device],
        device: &Device,
        offset: u64,
        data: &[u8],
    ) -> KResult<()> {
        let size = buffer_size(device);
        let mut done = 0usize;
        while done < data.len() {
            let position = offset + done as u64;
            let index = position / size;
            let within = (position % size) as usize;
            let length = buffer_len(device, index);
            let count = (length - within).min(data.len() - done);
            let slot = self.get(io, devices, device, index)?;
            let whole = within == 0 && count == length;
            let ready = if whole {
                let mut state = self.state.lock();
                let buf = &mut state.bufs[slot];
                buf.data.truncate(length);
                let resized = try_resize_zeroed(&mut buf.data, length);
                buf.valid = resized.is_ok();
                resized
            } else {
                self.fill(io, device, slot)
            };
            if let Err(errno) = ready {
                self.release(slot);
                return Err(errno);
            }
            {
                let mut state = self.state.lock();
                let buf = &mut state.bufs[slot];
                buf.data[within..within + count].copy_from_slice(&data[done..done + count]);
                buf.dirty = true;
            }
            done += count;
            self.release(slot);
        }
        Ok(())
    }

    /// Writes back every dirty buffer of `device`; the first error wins.
    pub(crate) fn flush(
        &self,
        io: &Arc<IoShared>,
        devices: &[Device],
        device: &Device,
    ) -> KResult<()> {
        let mut first_error = Ok(());
        let mut state = self.state.lock();
        // Each pass either writes a buffer back, or waits for a busy one.
        let mut skip = self.alloc.vec::<usize>();
        loop {
            let next =
                state.bufs.iter().enumerate().position(|(slot, buf)| {
                    buf.dev == device.id && buf.dirty && !skip.contains(&slot)
                });
            let Some(slot) = next else { break };
            if state.bufs[slot].busy {
                self.changed.wait(&mut state);
                continue;
            }
            state.bufs[slot].busy = true;
            drop(state);
            let result = self.write_back(io, devices, slot);
            if result.is_err() {
                if first_error.is_ok() {
                    first_error = result;
                }
                // Keep it dirty for a later flush, but do not loop on it.
                if skip.try_push(slot).is_err() {
                    self.release(slot);
                    return first_error;
                }
            }
            self.release(slot);
            state = self.state.lock();
        }
        first_error
    }

    /// Frees every buffer (at halt, after the final flush); buffers still
    /// dirty are dropped.
    pub(crate) fn release_memory(&self) {
        let mut state = self.state.lock();
        state.bufs = self.alloc.vec();
    }

    /// How many buffers exist, and how many of them are dirty.
    pub(crate) fn counts(&self) -> (usize, usize) {
        let state = self.state.lock();
        (
            state.bufs.len(),
            state.bufs.iter().filter(|b| b.dirty).count(),
        )
    }
}
