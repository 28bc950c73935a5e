//! `racy`: a **test-only** block driver of the rumpkit anykernel with a
//! planted race, for checking that the deterministic platform's schedulers
//! find concurrency bugs (and that round-robin does not). Never hand it to a
//! kernel outside a test.
//!
//! The bug: the unit models a controller with a single transfer channel that
//! one request at a time may own. `strategy` checks whether the channel is
//! free *without a lock*, then records the request in its statistics under
//! an unrelated lock (a scheduling point when the platform preempts at
//! locks), and only then marks the channel taken and counts itself as an
//! owner: a check-then-act race. When two requests both pass the check, the
//! owner count reaches two and the driver calls the `panic` hypercall with
//! [`RACE_MESSAGE`]. A request that finds the channel busy fails with
//! `EBUSY`, which is the correct answer. Under cooperative round-robin a
//! request runs from the check to the claim without switching threads, so
//! the race never shows; a scheduler that switches at lock operations
//! (random, PCT) can interleave two requests between check and claim.
//!
//! # Using it
//!
//! Hand [`COMPONENT`] to `Kernel::boot` with the dev faction. Its `init`
//! registers one block device, `racy0` ([`SIZE`] bytes, 512-byte blocks),
//! backed by kernel memory (site `racy.data`). Two threads reading different
//! uncached buffers of `racy0` (through devfs or the dev faction) send two
//! requests to `strategy` at once.
//!
//! It depends on `rumpkit-kernel` only, is `#![no_std]` + `alloc`, and
//! contains no `unsafe` code.
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;

use alloc::sync::Arc;
use core::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use rumpkit_kernel::dev::{BlockDone, BlockDriver, BlockGeometry, BlockOp, BlockRequest};
use rumpkit_kernel::hypercall::Hypercalls;
use rumpkit_kernel::kmem::{KVec, TryPush};
use rumpkit_kernel::sync::KMutex;
use rumpkit_kernel::{Component, Errno, Faction, KResult, Kernel};

/// The size of `racy0` in bytes.
pub const SIZE: u64 = 64 << 10;

/// How long a transfer keeps the channel, in nanoseconds (virtual time on
/// the deterministic platform).
pub const TRANSFER_NS: u64 = 10_000;

/// The message of the `panic` hypercall when the race happened.
pub const RACE_MESSAGE: &str = "racy: two requests own the transfer channel";

/// The racy component; hand it to `Kernel::boot` (tests only).
pub static COMPONENT: Racy = Racy;

/// The racy driver as a component.
#[derive(Debug, Clone, Copy, Default)]
pub struct Racy;

impl Component for Racy {
    fn name(&self) -> &'static str {
        "racy"
    }

    fn faction(&self) -> Faction {
        Faction::Dev
    }

    fn init(&self, kernel: &Kernel) -> KResult<()> {
        let platform = kernel.platform();
        let mut data: KVec<u8> = kernel.alloc("racy.data").vec();
        data.try_resize(SIZE as usize, 0)?;
        let unit = RacyUnit {
            platform: platform.clone(),
            channel_busy: AtomicBool::new(false),
            owners: AtomicU32::new(0),
            stats: KMutex::new(platform, "racy.stats", Stats::default()),
            data: KMutex::new(platform, "racy.data", data),
        };
        let geometry = BlockGeometry {
            size_bytes: SIZE,
            block_size: 512,
            read_only: false,
        };
        kernel
            .dev()?
            .register_block_device(b"racy0", geometry, unit)
            .map(|_| ())
    }
}

#[derive(Debug, Default)]
struct Stats {
    requests: u64,
}

/// The one unit, `racy0`.
struct RacyUnit {
    platform: Arc<dyn Hypercalls>,
    /// Whether a request owns the transfer channel; checked without a lock.
    channel_busy: AtomicBool,
    /// How many requests own the channel; more than one is the bug.
    owners: AtomicU32,
    stats: KMutex<Stats>,
    data: KMutex<KVec<u8>>,
}

impl BlockDriver for RacyUnit {
    fn strategy(&self, request: BlockRequest, done: BlockDone) {
        let BlockRequest {
            op,
            offset,
            mut buf,
        } = request;
        // THE PLANTED BUG: check ...
        if self.channel_busy.load(Ordering::SeqCst) {
            done.complete(buf, Err(Errno::EBUSY));
            return;
        }
        // ... reach a scheduling point (another thread may pass the check
        // now) ...
        self.stats.lock().requests += 1;
        // ... then act.
        self.channel_busy.store(true, Ordering::SeqCst);
        if self.owners.fetch_add(1, Ordering::SeqCst) != 0 {
            self.platform.panic(RACE_MESSAGE);
        }
        // The transfer takes the controller a while; the request owns the
        // channel meanwhile.
        let now = self.platform.clock_monotonic_ns();
        self.platform.sleep_until(now + TRANSFER_NS);
        let start = offset as usize;
        let result = {
            let mut data = self.data.lock();
            match op {
                BlockOp::Read => {
                    let length = buf.len();
                    buf.copy_from_slice(&data[start..start + length]);
                    Ok(length)
                }
                BlockOp::Write => {
                    data[start..start + buf.len()].copy_from_slice(&buf);
                    Ok(buf.len())
                }
                BlockOp::Flush => Ok(0),
            }
        };
        self.owners.fetch_sub(1, Ordering::SeqCst);
        self.channel_busy.store(false, Ordering::SeqCst);
        done.complete(buf, result);
    }
}
