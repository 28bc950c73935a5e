//! devfs: the built-in file system that shows the dev faction's block devices
//! as block-special files, mounted with `mount("devfs", "/dev")`.
//!
//! A devfs mount takes a snapshot of the device list when it is mounted (the
//! devices of a rumpkit kernel attach at boot, before anything is mounted):
//! one flat root directory with one block-special file per device, in name
//! order. Names, inode numbers and attributes come from the snapshot; reads,
//! writes, `lseek(SEEK_END)` and `fsync` on an open block-special file never
//! reach devfs at all: the vfs sends them to the dev faction's block-device
//! switch (`bdev_read`, `bdev_write`, `bdev_flush`), the way NetBSD's specfs
//! does. Nothing can be created, removed or renamed (`EPERM`).

use crate::errno::{Errno, KResult};
use crate::kernel::Kernel;
use crate::kmem::{KAlloc, KVec, TryPush};
use crate::vfs::fs::{
    Attr, DirEntry, FileSystem, Ino, NodeKind, SetAttr, StatFs, WriteAt, Written,
};

pub(crate) use crate::dev::BdevId;

/// The name `mount` knows devfs by.
pub const DEVFS_NAME: &str = "devfs";

const ROOT_INO: Ino = 1;

struct DevEntry {
    name: KVec<u8>,
    bdev: BdevId,
    size_bytes: u64,
    rdev: u64,
}

/// A mounted devfs.
pub(crate) struct DevFs {
    entries: KVec<DevEntry>,
    mounted_ns: i64,
}

impl DevFs {
    /// Mounts a devfs over the dev faction's devices (`ENODEV` without it).
    pub fn mount(kernel: &Kernel, alloc: &KAlloc) -> KResult<DevFs> {
        let dev = kernel.dev().map_err(|_| Errno::ENODEV)?;
        let alloc = alloc.with_site("vfs.devfs");
        let names = dev.block_device_names(&alloc)?;
        let mut entries: KVec<DevEntry> = alloc.vec();
        entries
            .try_reserve_exact(names.len())
            .map_err(|_| Errno::ENOMEM)?;
        for name in names {
            let bdev = dev.bdev_lookup(&name)?;
            let info = dev.bdev_info(bdev)?;
            entries.try_push(DevEntry {
                name,
                bdev,
                size_bytes: info.size_bytes,
                rdev: info.rdev,
            })?;
        }
        let mounted_ns = i64::try_from(kernel.platform().clock_wall_ns()).unwrap_or(i64::MAX);
        Ok(DevFs {
            entries,
            mounted_ns,
        })
    }

    fn entry(&self, ino: Ino) -> KResult<&DevEntry> {
        ino.checked_sub(ROOT_INO + 1)
            .and_then(|i| self.entries.get(usize::try_from(i).ok()?))
            .ok_or(Errno::ENOENT)
    }

    /// The block device behind a devfs inode.
    pub fn bdev(&self, ino: Ino) -> KResult<BdevId> {
        self.entry(ino).map(|e| e.bdev)
    }

    fn dir(&self, ino: Ino) -> KResult<()> {
        match ino {
            ROOT_INO => Ok(()),
            _ => self.entry(ino).and(Err(Errno::ENOTDIR)),
        }
    }
}

impl FileSystem for DevFs {
    fn root(&self) -> Ino {
        ROOT_INO
    }

    fn lookup(&self, dir: Ino, name: &[u8]) -> KResult<Ino> {
        self.dir(dir)?;
        if name == b".." {
            return Ok(ROOT_INO);
        }
        self.entries
            .iter()
            .position(|e| e.name.as_slice() == name)
            .map(|i| ROOT_INO + 1 + i as u64)
            .ok_or(Errno::ENOENT)
    }

    fn create(&self, dir: Ino, name: &[u8], _mode: u32) -> KResult<Ino> {
        self.exists_or(dir, name, Errno::EPERM)
    }

    fn mkdir(&self, dir: Ino, name: &[u8], _mode: u32) -> KResult<Ino> {
        self.exists_or(dir, name, Errno::EPERM)
    }

    fn symlink(&self, dir: Ino, name: &[u8], _target: &[u8]) -> KResult<Ino> {
        self.exists_or(dir, name, Errno::EPERM)
    }

    fn link(&self, dir: Ino, name: &[u8], _target: Ino) -> KResult<()> {
        self.exists_or(dir, name, Errno::EPERM).map(|_| ())
    }

    fn unlink(&self, dir: Ino, name: &[u8]) -> KResult<()> {
        self.lookup(dir, name)?;
        Err(Errno::EPERM)
    }

    fn rmdir(&self, dir: Ino, name: &[u8]) -> KResult<()> {
        self.lookup(dir, name)?;
        Err(Errno::ENOTDIR)
    }

    fn rename(&self, from_dir: Ino, from_name: &[u8], _to: Ino, _to_name: &[u8]) -> KResult<()> {
        self.lookup(from_dir, from_name)?;
        Err(Errno::EPERM)
    }

    fn readlink(&self, _ino: Ino, _buf: &mut [u8]) -> KResult<usize> {
        Err(Errno::EINVAL)
    }

    fn read(&self, ino: Ino, _offset: u64, _buf: &mut [u8]) -> KResult<usize> {
        self.dir(ino).and(Err(Errno::EISDIR))
    }

    fn write(&self, ino: Ino, _at: WriteAt, _data: &[u8]) -> KResult<Written> {
        self.dir(ino).and(Err(Errno::EISDIR))
    }

    fn truncate(&self, ino: Ino, _length: u64) -> KResult<()> {
        self.dir(ino).and(Err(Errno::EISDIR))?;
        Err(Errno::EINVAL)
    }

    fn getattr(&self, ino: Ino) -> KResult<Attr> {
        let mut attr = Attr {
            ino,
            kind: NodeKind::Dir,
            mode: 0o755,
            nlink: 2,
            size: 0,
            blocks: 0,
            rdev: 0,
            atime_ns: self.mounted_ns,
            mtime_ns: self.mounted_ns,
            ctime_ns: self.mounted_ns,
        };
        if ino != ROOT_INO {
            let entry = self.entry(ino)?;
            attr.kind = NodeKind::BlockDevice;
            attr.mode = 0o600;
            attr.nlink = 1;
            attr.size = entry.size_bytes;
            attr.rdev = entry.rdev;
        }
        Ok(attr)
    }

    fn setattr(&self, ino: Ino, _change: &SetAttr) -> KResult<()> {
        self.getattr(ino)?;
        Err(Errno::EPERM)
    }

    fn readdir(
        &self,
        dir: Ino,
        cookie: u64,
        sink: &mut dyn FnMut(&DirEntry<'_>) -> bool,
    ) -> KResult<()> {
        self.dir(dir)?;
        let total = self.entries.len() as u64 + 2;
        for index in cookie..total {
            let (ino, kind, name): (Ino, NodeKind, &[u8]) = match index {
                0 => (ROOT_INO, NodeKind::Dir, b"."),
                1 => (ROOT_INO, NodeKind::Dir, b".."),
                _ => {
                    let entry = &self.entries[(index - 2) as usize];
                    (index - 1 + ROOT_INO, NodeKind::BlockDevice, &entry.name)
                }
            };
            let entry = DirEntry {
                ino,
                kind,
                name,
                next_cookie: index + 1,
            };
            if !sink(&entry) {
                break;
            }
        }
        Ok(())
    }

    fn statfs(&self) -> KResult<StatFs> {
        Ok(StatFs {
            block_size: 4096,
            blocks: 0,
            blocks_free: 0,
            files: self.entries.len() as u64 + 1,
            name_max: super::NAME_MAX as u32,
        })
    }
}

impl DevFs {
    fn exists_or(&self, dir: Ino, name: &[u8], errno: Errno) -> KResult<Ino> {
        match self.lookup(dir, name) {
            Ok(_) => Err(Errno::EEXIST),
            Err(Errno::ENOENT) => Err(errno),
            Err(other) => Err(other),
        }
    }
}

// The block-device switch as the vfs uses it for open block-special files.

/// Reads from a block device at any offset.
pub(crate) fn bdev_read(
    kernel: &Kernel,
    bdev: BdevId,
    offset: u64,
    buf: &mut [u8],
) -> KResult<usize> {
    kernel.dev()?.bdev_read(kernel, bdev, offset, buf)
}

/// Writes to a block device at any offset.
pub(crate) fn bdev_write(
    kernel: &Kernel,
    bdev: BdevId,
    offset: u64,
    data: &[u8],
) -> KResult<usize> {
    kernel.dev()?.bdev_write(kernel, bdev, offset, data)
}

/// Writes back a block device's buffers and flushes it.
pub(crate) fn bdev_flush(kernel: &Kernel, bdev: BdevId) -> KResult<()> {
    kernel.dev()?.bdev_flush(kernel, bdev)
}

/// A block device's size in bytes.
pub(crate) fn bdev_size(kernel: &Kernel, bdev: BdevId) -> KResult<u64> {
    Ok(kernel.dev()?.bdev_info(bdev)?.size_bytes)
}
