//! The dev faction: device registry, block-device switch and buffered block
//! I/O.
//!
//! Block drivers (such as `md`) implement [`BlockDriver`] and register each
//! unit with [`DevFaction::register_block_device`] from their component's
//! `init`. The rest of the kernel (devfs, file systems on block devices)
//! reaches them by name or [`BdevId`] through [`DevFaction::bdev_read`],
//! [`DevFaction::bdev_write`] and [`DevFaction::bdev_flush`], which go through
//! the buffer cache ([`bufcache`]): any offset and length, delayed writes,
//! write-back on flush and eviction. Requests to the driver are split-phase
//! ([`block`]); the caller waits for the completion in a condition variable.
//!
//! At halt the faction flushes every device, frees every buffer, and detaches
//! and drops every driver, so the leak report stays empty.

pub mod block;
pub mod bufcache;

use alloc::sync::Arc;
use core::sync::atomic::{AtomicBool, Ordering};

use rumpkit_hypercall::Hypercalls;

pub use block::{BlockDone, BlockDriver, BlockGeometry, BlockOp, BlockRequest};

use crate::errno::{Errno, KResult};
use crate::kernel::{parse_size, BootContext, Kernel};
use crate::kmem::{kvec_from_slice, KAlloc, KBox, KVec, TryPush};
use crate::sync::KRwLock;
use block::IoShared;
use bufcache::BufCache;

/// A registered block device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BdevId(pub u32);

/// What the dev faction tells about a block device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BdevInfo {
    /// The size in bytes.
    pub size_bytes: u64,
    /// The block size in bytes.
    pub block_size: u32,
    /// Writes are refused with `EROFS`.
    pub read_only: bool,
    /// The device number, as `stat` shows it in `st_rdev`.
    pub rdev: u64,
}

/// The major number of every block device of this kernel (Linux's range for
/// local, experimental use).
pub const BDEV_MAJOR: u64 = 240;

/// A device in the registry.
pub(crate) struct Device {
    pub(crate) id: BdevId,
    name: KVec<u8>,
    pub(crate) geometry: BlockGeometry,
    pub(crate) driver: KBox<dyn BlockDriver>,
    /// A delayed write was lost; the next flush answers `EIO`.
    pub(crate) write_error: AtomicBool,
}

struct Registry {
    devices: KVec<Device>,
    detached: bool,
}

/// The dev faction's state inside a kernel.
pub struct DevFaction {
    alloc: KAlloc,
    registry: KRwLock<Registry>,
    io: Arc<IoShared>,
    cache: BufCache,
}

impl DevFaction {
    /// Brings the faction up during boot (before drivers attach). The
    /// `dev.buffers` parameter sets the buffer cache's size in buffers.
    pub(crate) fn boot(context: &BootContext) -> KResult<DevFaction> {
        let platform: &Arc<dyn Hypercalls> = &context.platform;
        let capacity = platform
            .param("dev.buffers")
            .and_then(|text| parse_size(&text))
            .unwrap_or(bufcache::BUFFER_COUNT_DEFAULT);
        let alloc = context.alloc("dev");
        Ok(DevFaction {
            registry: KRwLock::new(
                platform,
                "dev.registry",
                Registry {
                    devices: alloc.vec(),
                    detached: false,
                },
            ),
            io: Arc::new(IoShared::new(platform, context.alloc("dev.bio"))),
            cache: BufCache::new(platform, context.alloc("dev.buf"), capacity),
            alloc,
        })
    }

    /// Registers block device `name` driven by `driver`. `EEXIST` if the name
    /// is taken, `EINVAL` for a bad geometry or name, `ENXIO` after halt
    /// began, `ENOMEM`.
    pub fn register_block_device<D: BlockDriver + 'static>(
        &self,
        name: &[u8],
        geometry: BlockGeometry,
        driver: D,
    ) -> KResult<BdevId> {
        let block_size = geometry.block_size;
        if name.is_empty()
            || name.len() > 255
            || name.contains(&b'/')
            || name.contains(&0)
            || block_size < 512
            || !block_size.is_power_of_two()
            || geometry.size_bytes & (u64::from(block_size) - 1) != 0
        {
            return Err(Errno::EINVAL);
        }
        let boxed = self.alloc.try_box(driver)?;
        let driver: KBox<dyn BlockDriver> = allocator_api2::unsize_box!(boxed);
        let name = kvec_from_slice(&self.alloc, name)?;
        let mut registry = self.registry.write();
        if registry.detached {
            return Err(Errno::ENXIO);
        }
        if registry.devices.iter().any(|device| device.name == name) {
            return Err(Errno::EEXIST);
        }
        let id = BdevId(registry.devices.len() as u32);
        registry.devices.try_push(Device {
            id,
            name,
            geometry,
            driver,
            write_error: AtomicBool::new(false),
        })?;
        Ok(id)
    }

    /// The names of all block devices, sorted.
    pub fn block_device_names(&self, alloc: &KAlloc) -> KResult<KVec<KVec<u8>>> {
        let registry = self.registry.read();
        let mut names = alloc.vec::<KVec<u8>>();
        names
            .try_reserve(registry.devices.len())
            .map_err(|_| Errno::ENOMEM)?;
        for device in registry.devices.iter() {
            names.push(kvec_from_slice(alloc, &device.name)?);
        }
        names.sort();
        Ok(names)
    }

    /// The device called `name`; `ENXIO` if there is none.
    pub fn bdev_lookup(&self, name: &[u8]) -> KResult<BdevId> {
        let registry = self.registry.read();
        registry
            .devices
            .iter()
            .find(|device| device.name[..] == *name)
            .map(|device| device.id)
            .ok_or(Errno::ENXIO)
    }

    /// What there is to know about `dev`; `ENXIO` if there is no such device.
    pub fn bdev_info(&self, dev: BdevId) -> KResult<BdevInfo> {
        let registry = self.registry.read();
        let device = registry.devices.get(dev.0 as usize).ok_or(Errno::ENXIO)?;
        Ok(BdevInfo {
            size_bytes: device.geometry.size_bytes,
            block_size: device.geometry.block_size,
            read_only: device.geometry.read_only,
            rdev: (BDEV_MAJOR << 8) | u64::from(dev.0 & 0xff) | (u64::from(dev.0 >> 8) << 20),
        })
    }

    /// Reads up to `buf.len()` bytes at `offset` through the buffer cache:
    /// any offset and length; a short read at the device's end, 0 past it.
    pub fn bdev_read(
        &self,
        _kernel: &Kernel,
        dev: BdevId,
        offset: u64,
        buf: &mut [u8],
    ) -> KResult<usize> {
        let registry = self.registry.read();
        let device = registry.devices.get(dev.0 as usize).ok_or(Errno::ENXIO)?;
        let size = device.geometry.size_bytes;
        if offset >= size || buf.is_empty() {
            return Ok(0);
        }
        let count = (size - offset).min(buf.len() as u64) as usize;
        self.cache.read(
            &self.io,
            &registry.devices,
            device,
            offset,
            &mut buf[..count],
        )?;
        Ok(count)
    }

    /// Writes `data` at `offset` through the buffer cache (delayed until a
    /// flush or eviction). A write that starts at or past the device's end
    /// answers `ENOSPC`; one that crosses it is cut short there.
    pub fn bdev_write(
        &self,
        _kernel: &Kernel,
        dev: BdevId,
        offset: u64,
        data: &[u8],
    ) -> KResult<usize> {
        let registry = self.registry.read();
        let device = registry.devices.get(dev.0 as usize).ok_or(Errno::ENXIO)?;
        if device.geometry.read_only {
            return Err(Errno::EROFS);
        }
        if data.is_empty() {
            return Ok(0);
        }
        let size = device.geometry.size_bytes;
        if offset >= size {
            return Err(Errno::ENOSPC);
        }
        let count = (size - offset).min(data.len() as u64) as usize;
        self.cache
            .write(&self.io, &registry.devices, device, offset, &data[..count])?;
        Ok(count)
    }

    /// Writes back the device's dirty buffers, then asks the driver to make
    /// them durable. `EIO` if any write (or an earlier delayed write lost on
    /// eviction) failed.
    pub fn bdev_flush(&self, _kernel: &Kernel, dev: BdevId) -> KResult<()> {
        let registry = self.registry.read();
        let device = registry.devices.get(dev.0 as usize).ok_or(Errno::ENXIO)?;
        self.flush_device(&registry.devices, device)
    }

    fn flush_device(&self, devices: &[Device], device: &Device) -> KResult<()> {
        let written = self.cache.flush(&self.io, devices, device);
        let flushed = if device.geometry.read_only {
            Ok(())
        } else {
            let (_, result) = self
                .io
                .run(&*device.driver, BlockOp::Flush, 0, self.alloc.vec());
            result.map(|_| ())
        };
        let lost = device.write_error.swap(false, Ordering::Relaxed);
        written?;
        flushed?;
        if lost {
            return Err(Errno::EIO);
        }
        Ok(())
    }

    /// Flushes every block device; the first error wins.
    pub fn sync_all(&self) -> KResult<()> {
        let registry = self.registry.read();
        let mut first = Ok(());
        for device in registry.devices.iter() {
            let result = self.flush_device(&registry.devices, device);
            if first.is_ok() {
                first = result;
            }
        }
        first
    }

    /// How many buffers the cache holds, and how many of them are dirty.
    pub fn buffer_counts(&self) -> (usize, usize) {
        self.cache.counts()
    }

    /// Flushes and detaches every device; called at halt after the vfs
    /// faction is down. Afterwards every device call answers `ENXIO`.
    pub(crate) fn shutdown(&self, _kernel: &Kernel) {
        // Write-back errors at halt have nobody to go to; the data stays on
        // whatever the device managed to store.
        let _ = self.sync_all();
        self.cache.release_memory();
        let mut registry = self.registry.write();
        for device in registry.devices.iter() {
            device.driver.detach();
        }
        registry.devices = self.alloc.vec();
        registry.detached = true;
        drop(registry);
        self.io.release_memory();
    }
}
