//! The mount table.
//!
//! A mount is a mounted [`FileSystem`] plus the vnode it covers in its parent
//! mount (none for the root). The table sits behind one [`KRwLock`](crate::sync::KRwLock)
//! in the faction: every system call holds it shared for its whole length (so
//! a file system cannot vanish under it), `mount` and `unmount` hold it
//! exclusively. System calls therefore never wait for each other here, only
//! for a mount or unmount in progress.
//!
//! Mounts are named by their index in the table; an index is reused only
//! after its mount is gone, and a mount with open files cannot go.

use crate::errno::{Errno, KResult};
use crate::kmem::{KBox, KVec};
use crate::vfs::fs::{FileSystem, Ino};

/// A node in the mounted tree: a mount and an inode on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Node {
    pub mount: usize,
    pub ino: Ino,
}

/// What a mounted file system is.
pub(crate) enum MountFs {
    /// A driver's file system.
    Driver(KBox<dyn FileSystem>),
    /// The built-in devfs.
    Dev(super::devfs::DevFs),
}

/// One mounted file system.
pub(crate) struct Mount {
    /// The file system.
    pub fs: MountFs,
    /// Its root inode.
    pub root: Ino,
    /// The node it covers, `None` for the root mount.
    pub covers: Option<Node>,
    /// `st_dev` of its inodes.
    pub dev: u64,
}

impl Mount {
    /// The driver-facing interface of the mounted file system.
    pub fn fs(&self) -> &dyn FileSystem {
        match &self.fs {
            MountFs::Driver(fs) => &**fs,
            MountFs::Dev(fs) => fs,
        }
    }
}

/// All mounts of a kernel.
pub(crate) struct MountTable {
    pub mounts: KVec<Option<Mount>>,
    pub next_dev: u64,
}

impl MountTable {
    /// The mount at `index`, which must be live.
    pub fn get(&self, index: usize) -> &Mount {
        self.mounts[index]
            .as_ref()
            .expect("mount index refers to a live mount")
    }

    /// The root node, or `ENOENT` before anything is mounted on `/`.
    pub fn root(&self) -> KResult<Node> {
        for (index, mount) in self.mounts.iter().enumerate() {
            if let Some(mount) = mount {
                if mount.covers.is_none() {
                    return Ok(Node {
                        mount: index,
                        ino: mount.root,
                    });
                }
            }
        }
        Err(Errno::ENOENT)
    }

    /// The mount whose root covers `node`, if any.
    pub fn covering(&self, node: Node) -> Option<usize> {
        self.mounts
            .iter()
            .position(|m| m.as_ref().is_some_and(|m| m.covers == Some(node)))
    }

    /// Follows mount points down: the root of whatever is mounted on `node`.
    pub fn cross_down(&self, mut node: Node) -> Node {
        // Bounded: each step enters a different mount.
        for _ in 0..=self.mounts.len() {
            match self.covering(node) {
                Some(index) => {
                    node = Node {
                        mount: index,
                        ino: self.get(index).root,
                    }
                }
                None => return node,
            }
        }
        node
    }

    /// Whether `node` is a mount point or the root of a mount.
    pub fn is_mount_boundary(&self, node: Node) -> bool {
        self.get(node.mount).root == node.ino || self.covering(node).is_some()
    }

    /// Whether any mount sits on a node of mount `index`.
    pub fn has_children(&self, index: usize) -> bool {
        self.mounts
            .iter()
            .flatten()
            .any(|m| m.covers.is_some_and(|c| c.mount == index))
    }
}
