//! `md`: the memory-disk block driver of the rumpkit anykernel. Each unit
//! `md{i}` is a block device of the dev faction backed by the platform's
//! backing device of the same name (an in-memory disk on the host platform, a
//! fault-injecting one on the deterministic platform), reached through the
//! block-I/O hypercalls. It depends on `rumpkit-kernel` only, is
//! `#![no_std]` + `alloc`, and contains no `unsafe` code.
//!
//! # Using it
//!
//! Hand [`COMPONENT`] to `Kernel::boot` together with the dev faction. At
//! init it reads the platform parameter `md.units` (default 1) and, for each
//! unit `i`, opens the backing device `md{i}` with `bio_open` and registers
//! it with the dev faction as block device `md{i}`.
//!
//! # Requests
//!
//! The strategy routine copies the request's kernel buffer into a buffer for
//! the hypercall (allocated fallibly: a refused allocation completes the
//! request with `ENOMEM`), submits it with `bio_submit`, and completes the
//! request from the platform's completion callback, copying read data back
//! and turning the platform's error into an errno (`EIO` for an I/O error).
//! The hypercall interface passes buffers and callbacks in the global
//! allocator's `Vec` and `Box`; those two allocations are the only ones this
//! driver makes outside kernel memory, and the callback box is the only
//! infallible one.
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;

use alloc::boxed::Box;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt::Write;
use core::sync::atomic::{AtomicBool, Ordering};

use rumpkit_kernel::dev::{BlockDone, BlockDriver, BlockGeometry, BlockOp, BlockRequest};
use rumpkit_kernel::hypercall::{BioOp, BioRequest, BlockDevId, Hypercalls};
use rumpkit_kernel::{Component, Errno, Faction, KResult, Kernel};

/// The most units one kernel may have.
pub const UNITS_MAX: u32 = 64;

/// Zeros for read buffers.
static ZEROS: [u8; 4096] = [0; 4096];

/// The md component; hand it to `Kernel::boot`.
pub static COMPONENT: Md = Md;

/// The md driver as a component.
#[derive(Debug, Clone, Copy, Default)]
pub struct Md;

/// A unit name, `md{i}`, without allocating.
struct UnitName {
    bytes: [u8; 16],
    len: usize,
}

impl Write for UnitName {
    fn write_str(&mut self, text: &str) -> core::fmt::Result {
        let end = self.len + text.len();
        if end > self.bytes.len() {
            return Err(core::fmt::Error);
        }
        self.bytes[self.len..end].copy_from_slice(text.as_bytes());
        self.len = end;
        Ok(())
    }
}

impl UnitName {
    fn new(unit: u32) -> UnitName {
        let mut name = UnitName {
            bytes: [0; 16],
            len: 0,
        };
        write!(name, "md{unit}").expect("md{u32} fits in 16 bytes");
        name
    }

    fn as_str(&self) -> &str {
        core::str::from_utf8(&self.bytes[..self.len]).expect("written from a str")
    }
}

impl Component for Md {
    fn name(&self) -> &'static str {
        "md"
    }

    fn faction(&self) -> Faction {
        Faction::Dev
    }

    fn init(&self, kernel: &Kernel) -> KResult<()> {
        let platform = kernel.platform();
        let units = match platform.param("md.units") {
            None => 1,
            Some(text) => text.trim().parse::<u32>().map_err(|_| Errno::EINVAL)?,
        };
        if units > UNITS_MAX {
            return Err(Errno::EINVAL);
        }
        let dev = kernel.dev()?;
        for unit in 0..units {
            let name = UnitName::new(unit);
            let info = platform.bio_open(name.as_str()).map_err(Errno::from)?;
            let driver = MdUnit {
                platform: platform.clone(),
                backing: info.id,
                closed: AtomicBool::new(false),
            };
            let geometry = BlockGeometry {
                size_bytes: info.size_bytes,
                block_size: info.block_size,
                read_only: info.read_only,
            };
            // On failure the driver is dropped, which closes the backing.
            dev.register_block_device(name.as_str().as_bytes(), geometry, driver)?;
        }
        Ok(())
    }
}

/// One md unit: a backing device of the platform.
struct MdUnit {
    platform: Arc<dyn Hypercalls>,
    backing: BlockDevId,
    closed: AtomicBool,
}

impl MdUnit {
    fn close(&self) {
        if !self.closed.swap(true, Ordering::Relaxed) {
            self.platform.bio_close(self.backing);
        }
    }
}

impl BlockDriver for MdUnit {
    fn strategy(&self, request: BlockRequest, done: BlockDone) {
        let BlockRequest {
            op,
            offset,
            buf: mut kernel_buf,
        } = request;
        let mut host_buf = Vec::new();
        if host_buf.try_reserve_exact(kernel_buf.len()).is_err() {
            done.complete(kernel_buf, Err(Errno::ENOMEM));
            return;
        }
        let bio_op = match op {
            BlockOp::Read => {
                // Whole-slice copies rather than a store per byte, which
                // instrumented builds (fuzzing, coverage) pay for dearly.
                while host_buf.len() < kernel_buf.len() {
                    let more = (kernel_buf.len() - host_buf.len()).min(ZEROS.len());
                    host_buf.extend_from_slice(&ZEROS[..more]);
                }
                BioOp::Read
            }
            BlockOp::Write => {
                host_buf.extend_from_slice(&kernel_buf);
                BioOp::Write
            }
            BlockOp::Flush => BioOp::Flush,
        };
        let callback = Box::new(
            move |completion: rumpkit_kernel::hypercall::BioCompletion| {
                let result = match completion.result {
                    Ok(count) if op == BlockOp::Read => {
                        if completion.buf.len() == kernel_buf.len() {
                            kernel_buf.copy_from_slice(&completion.buf);
                            Ok(count)
                        } else {
                            Err(Errno::EIO)
                        }
                    }
                    Ok(count) => Ok(count),
                    Err(error) => Err(Errno::from(error)),
                };
                done.complete(kernel_buf, result);
            },
        );
        self.platform.bio_submit(
            self.backing,
            BioRequest {
                op: bio_op,
                offset,
                buf: host_buf,
            },
            callback,
        );
    }

    fn detach(&self) {
        self.close();
    }
}

impl Drop for MdUnit {
    fn drop(&mut self) {
        self.close();
    }
}
