//! The driver-facing file-system interface: what a file-system driver
//! implements, and nothing more.
//!
//! Two traits, in the spirit of smoltcp's `phy::Device`: small, object safe,
//! no generics, no lifetimes the driver has to thread through.
//!
//! * [`FileSystemType`] is a `&'static` value a driver registers from its
//!   `Component::init` with [`super::VfsFaction::register_fstype`]. Its only
//!   job is to make a mounted instance from a [`MountRequest`].
//! * [`FileSystem`] is one mounted instance. Its operations name nodes by
//!   inode number ([`Ino`]), not by vnode objects: the vfs keeps no per-node
//!   state of its own, so a driver owns all of its state, behind its own
//!   `KMutex`/`KRwLock` (the vfs holds no lock that serialises system calls;
//!   two system calls on one mount really run driver code concurrently, which
//!   is what lets the deterministic platform find races in drivers).
//!
//! # What the vfs does, and what the driver does
//!
//! The vfs parses paths, follows symlinks and mount points, handles `.` and
//! the `..` of a mount root, checks access modes, keeps descriptors and file
//! offsets, and answers `EXDEV` and `EBUSY` for anything crossing mounts. It
//! never hands a driver the names `.` or `..` to create or remove, and never
//! a name longer than [`super::NAME_MAX`] or containing `/` or NUL.
//!
//! The driver answers for everything that must be atomic with respect to its
//! own state, because between two driver calls another system call may run:
//! `EEXIST`/`ENOENT` on names, `ENOTDIR` when `dir` is not a directory,
//! rename's replace rules (file over directory `EISDIR`, directory over file
//! `ENOTDIR`, over a non-empty directory `ENOTEMPTY`, into its own subtree
//! `EINVAL`, the same inode under both names: a successful no-op), `EPERM` for
//! a hard link to a directory, `ENOSPC` and `ENOMEM`. A failed operation must
//! leave the file system as it was (no half-created entries).
//!
//! An inode number handed out by a driver may go stale at any moment (another
//! system call unlinked it); operations on a stale number answer `ENOENT`.
//! While a file is open the vfs holds its inode with [`FileSystem::open`] and
//! lets go with [`FileSystem::release`]; an unlinked inode lives on until its
//! last release, as POSIX wants.

use crate::errno::KResult;
use crate::kernel::Kernel;
use crate::kmem::{KAlloc, KBox};

/// An inode number, unique within one mounted file system.
pub type Ino = u64;

/// What kind of node an inode is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NodeKind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// A symbolic link.
    Symlink,
    /// A block-special file; reads and writes go to the dev faction's block
    /// device (see [`Attr::rdev`]), not to the driver.
    BlockDevice,
    /// A character-special file (no driver makes these yet).
    CharDevice,
}

impl NodeKind {
    /// The `S_IF*` bits of `st_mode`.
    pub const fn mode_bits(self) -> u32 {
        match self {
            NodeKind::File => 0o100000,
            NodeKind::Dir => 0o040000,
            NodeKind::Symlink => 0o120000,
            NodeKind::BlockDevice => 0o060000,
            NodeKind::CharDevice => 0o020000,
        }
    }

    /// The `DT_*` value `getdents` reports.
    pub const fn dirent_type(self) -> u8 {
        match self {
            NodeKind::File => 8,
            NodeKind::Dir => 4,
            NodeKind::Symlink => 10,
            NodeKind::BlockDevice => 6,
            NodeKind::CharDevice => 2,
        }
    }
}

/// The attributes of an inode, as [`FileSystem::getattr`] reports them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attr {
    /// The inode number.
    pub ino: Ino,
    /// What it is.
    pub kind: NodeKind,
    /// Permission bits (`0o7777` at most; the vfs adds the type bits).
    pub mode: u32,
    /// Hard links (a directory: 2 plus its subdirectories).
    pub nlink: u32,
    /// Size in bytes (a symlink: the length of its target).
    pub size: u64,
    /// 512-byte blocks in use.
    pub blocks: u64,
    /// The device number of a block- or character-special file, else 0.
    pub rdev: u64,
    /// Last access, nanoseconds since the Unix epoch.
    pub atime_ns: i64,
    /// Last modification of the contents.
    pub mtime_ns: i64,
    /// Last change of the inode.
    pub ctime_ns: i64,
}

/// A change of attributes for [`FileSystem::setattr`]. `None` leaves a field
/// as it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SetAttr {
    /// New permission bits (`0o7777` at most).
    pub mode: Option<u32>,
}

/// Where [`FileSystem::write`] writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteAt {
    /// At this byte offset, growing the file (with zeroes) as needed.
    Offset(u64),
    /// At the end of the file, atomically with respect to other writes
    /// (`O_APPEND`).
    End,
}

/// What [`FileSystem::write`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Written {
    /// Bytes written; fewer than asked only when the file system filled up
    /// part way (a write that cannot place a single byte answers `ENOSPC`).
    pub bytes: usize,
    /// The offset just past the last byte written (the new file offset).
    pub end: u64,
}

/// One directory entry, handed to the sink of [`FileSystem::readdir`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DirEntry<'a> {
    /// Its inode.
    pub ino: Ino,
    /// What it is.
    pub kind: NodeKind,
    /// Its name (`.` and `..` included).
    pub name: &'a [u8],
    /// The cookie that resumes the listing just after this entry.
    pub next_cookie: u64,
}

/// What [`FileSystem::statfs`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StatFs {
    /// The block size the counts below are in.
    pub block_size: u32,
    /// Total blocks.
    pub blocks: u64,
    /// Free blocks.
    pub blocks_free: u64,
    /// Inodes in use.
    pub files: u64,
    /// The longest name the file system takes.
    pub name_max: u32,
}

/// What a mount system call asks of a file-system type.
#[derive(Clone, Copy)]
pub struct MountRequest<'a> {
    /// The `source` argument of `mount`: a device name for disk file
    /// systems, an option string (`"size=64K"`) for tmpfs; may be empty.
    pub source: &'a [u8],
    /// The `flags` argument of `mount`.
    pub flags: u32,
    /// An allocator whose site names the file-system type; drivers make their
    /// own with [`KAlloc::with_site`].
    pub alloc: &'a KAlloc,
}

/// A kind of file system, registered once per kernel by its driver.
pub trait FileSystemType: Sync {
    /// The name `mount` knows it by, such as `"tmpfs"`.
    fn name(&self) -> &'static str;

    /// Makes a mounted instance. Errors: `EINVAL` for options it does not
    /// understand, `ENOMEM`, and whatever opening a backing device gives.
    fn mount(&self, kernel: &Kernel, request: &MountRequest<'_>) -> KResult<KBox<dyn FileSystem>>;
}

/// One mounted file system. Every operation may run concurrently with every
/// other; see the module documentation for who checks what.
pub trait FileSystem: Send + Sync {
    /// The root directory's inode.
    fn root(&self) -> Ino;

    /// The inode called `name` in directory `dir`. `name` is never `.`; it may
    /// be `..` (the root's `..` is the root). `ENOENT`, `ENOTDIR`.
    fn lookup(&self, dir: Ino, name: &[u8]) -> KResult<Ino>;

    /// Creates an empty regular file `name` in `dir` with permission bits
    /// `mode`. `EEXIST` if the name is taken (by anything).
    fn create(&self, dir: Ino, name: &[u8], mode: u32) -> KResult<Ino>;

    /// Creates an empty directory. `EEXIST` if the name is taken.
    fn mkdir(&self, dir: Ino, name: &[u8], mode: u32) -> KResult<Ino>;

    /// Creates a symbolic link holding `target` (non-empty, no NUL).
    fn symlink(&self, dir: Ino, name: &[u8], target: &[u8]) -> KResult<Ino>;

    /// Makes `name` in `dir` another name of `target`. `EPERM` if `target` is a
    /// directory, `EEXIST` if the name is taken.
    fn link(&self, dir: Ino, name: &[u8], target: Ino) -> KResult<()>;

    /// Removes a non-directory name. `EISDIR` for a directory.
    fn unlink(&self, dir: Ino, name: &[u8]) -> KResult<()>;

    /// Removes an empty directory. `ENOTDIR`, `ENOTEMPTY`.
    fn rmdir(&self, dir: Ino, name: &[u8]) -> KResult<()>;

    /// Renames atomically, replacing the target by POSIX rules.
    fn rename(&self, from_dir: Ino, from_name: &[u8], to_dir: Ino, to_name: &[u8]) -> KResult<()>;

    /// Copies a symlink's target into `buf` (truncating); returns the length
    /// copied. `EINVAL` if `ino` is not a symlink.
    fn readlink(&self, ino: Ino, buf: &mut [u8]) -> KResult<usize>;

    /// Reads from a regular file at `offset`; 0 at or past the end. `EISDIR`
    /// for a directory.
    fn read(&self, ino: Ino, offset: u64, buf: &mut [u8]) -> KResult<usize>;

    /// Writes to a regular file.
    fn write(&self, ino: Ino, at: WriteAt, data: &[u8]) -> KResult<Written>;

    /// Sets a regular file's size, cutting or zero-filling.
    fn truncate(&self, ino: Ino, length: u64) -> KResult<()>;

    /// The inode's attributes.
    fn getattr(&self, ino: Ino) -> KResult<Attr>;

    /// Changes attributes.
    fn setattr(&self, ino: Ino, change: &SetAttr) -> KResult<()>;

    /// Lists directory `dir` from `cookie` (0: the start, with `.` and `..`),
    /// handing entries to `sink` in a stable order until it answers `false`
    /// (full) or the directory ends.
    fn readdir(
        &self,
        dir: Ino,
        cookie: u64,
        sink: &mut dyn FnMut(&DirEntry<'_>) -> bool,
    ) -> KResult<()>;

    /// Makes one file's data durable.
    fn fsync(&self, ino: Ino) -> KResult<()> {
        let _ = ino;
        Ok(())
    }

    /// Makes everything durable (called by `sync` and before unmounting).
    fn sync(&self) -> KResult<()> {
        Ok(())
    }

    /// Usage figures.
    fn statfs(&self) -> KResult<StatFs>;

    /// A file was opened on `ino`: keep the inode alive, even unlinked, until
    /// the matching [`FileSystem::release`]. `ENOENT` if it is already gone.
    fn open(&self, ino: Ino) -> KResult<()> {
        let _ = ino;
        Ok(())
    }

    /// The last descriptor of an open file on `ino` was closed.
    fn release(&self, ino: Ino) {
        let _ = ino;
    }
}

/// Boxes a driver's file system as the `KBox<dyn FileSystem>` that
/// [`FileSystemType::mount`] returns (unsizing a kernel box needs
/// `allocator_api2::unsize_box!`, so drivers that forbid `unsafe` call this).
pub fn box_file_system<F: FileSystem + 'static>(
    alloc: &KAlloc,
    fs: F,
) -> KResult<KBox<dyn FileSystem>> {
    let boxed = alloc.try_box(fs)?;
    let unsized_box: KBox<dyn FileSystem> = allocator_api2::unsize_box!(boxed);
    Ok(unsized_box)
}
