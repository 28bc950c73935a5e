//! The vfs faction: file-system types, mounts, path lookup, open files and
//! the POSIX semantics of the file system calls.
//!
//! # Pieces
//!
//! * [`fs`] — the driver-facing interface: [`FileSystemType`] (registered by a
//!   driver's component) and [`FileSystem`] (one mounted instance, operations
//!   on inode numbers). Read its documentation before writing a driver.
//! * `mount` — the mount table: which file system is mounted where.
//! * `namei` — path lookup: `.`, `..` across mount points, symlinks with a
//!   bound, trailing slashes.
//! * `ops` — the system calls themselves, with Linux's errno rules; the typed
//!   entry points are [`crate::syscall::Sys`].
//! * [`devfs`] — the built-in file system showing the dev faction's block
//!   devices; their I/O goes straight to the block-device switch.
//! * Descriptors and open files live in [`crate::syscall::proc`], which the
//!   kernel has whether or not the vfs faction was booted.
//!
//! # Locking
//!
//! There is no big kernel lock. A system call holds the mount table shared
//! for its whole length, the descriptor table only for moments, and drivers
//! lock their own state; so two system calls run driver code at the same time
//! and can race the way they would in a real kernel. `mount` and `unmount`
//! hold the mount table exclusively and so wait for system calls in progress.
//!
//! # Halt
//!
//! At halt the faction closes every descriptor of every process, then syncs
//! and unmounts every file system, children first; after that the faction
//! holds no memory beyond itself, and dropping it returns that.

pub mod devfs;
pub mod fs;
pub(crate) mod mount;
pub(crate) mod namei;
mod ops;

use crate::errno::{Errno, KResult};
use crate::kernel::{BootContext, Kernel};
use crate::kmem::{KAlloc, KVec, TryPush};
use crate::sync::{KMutex, KRwLock};

pub use fs::{
    box_file_system, Attr, DirEntry, FileSystem, FileSystemType, Ino, MountRequest, NodeKind,
    SetAttr, StatFs, WriteAt, Written,
};
pub use namei::{MAX_SYMLINKS, NAME_MAX, PATH_MAX};

use mount::MountTable;

/// The vfs faction's state inside a kernel.
pub struct VfsFaction {
    alloc: KAlloc,
    fstypes: KMutex<KVec<&'static dyn FileSystemType>>,
    mounts: KRwLock<MountTable>,
}

impl VfsFaction {
    /// Brings the faction up during boot (before file-system drivers register).
    pub(crate) fn boot(context: &BootContext) -> KResult<VfsFaction> {
        let alloc = context.alloc("vfs");
        Ok(VfsFaction {
            fstypes: KMutex::new(
                &context.platform,
                "vfs.fstypes",
                alloc.with_site("vfs.fstypes").vec(),
            ),
            mounts: KRwLock::new(
                &context.platform,
                "vfs.mounts",
                MountTable {
                    mounts: alloc.with_site("vfs.mounts").vec(),
                    next_dev: 1,
                },
            ),
            alloc,
        })
    }

    /// Registers a file-system type (from a driver's `Component::init`).
    /// `EEXIST` if a type of that name is registered already.
    pub fn register_fstype(&self, fstype: &'static dyn FileSystemType) -> KResult<()> {
        let mut fstypes = self.fstypes.lock();
        if fstype.name() == devfs::DEVFS_NAME
            || fstypes.iter().any(|known| known.name() == fstype.name())
        {
            return Err(Errno::EEXIST);
        }
        fstypes.try_push(fstype)
    }

    /// Whether a file-system type of this name is registered (devfs always is).
    pub fn has_fstype(&self, name: &str) -> bool {
        name == devfs::DEVFS_NAME || self.fstype(name.as_bytes()).is_some()
    }

    fn fstype(&self, name: &[u8]) -> Option<&'static dyn FileSystemType> {
        let fstypes = self.fstypes.lock();
        fstypes
            .iter()
            .find(|known| known.name().as_bytes() == name)
            .copied()
    }

    /// Runs `body` with the mount table held shared.
    pub(crate) fn with_mounts<T>(&self, body: impl FnOnce(&MountTable) -> T) -> T {
        let table = self.mounts.read();
        body(&table)
    }

    /// Closes all descriptors, then syncs and unmounts everything, children
    /// first; called first at halt.
    pub(crate) fn shutdown(&self, kernel: &Kernel) {
        {
            let table = self.mounts.read();
            kernel.procs.destroy_all(&mut |mount, ino| {
                table.get(mount).fs().release(ino);
            });
        }
        let mut table = self.mounts.write();
        loop {
            let leaf = (0..table.mounts.len())
                .rev()
                .find(|&i| table.mounts[i].is_some() && !table.has_children(i));
            let Some(index) = leaf else { break };
            // A failing sync cannot stop a halt; the data is lost either way.
            let _ = table.get(index).fs().sync();
            table.mounts[index] = None;
        }
    }
}
