//! tmpfs for the rumpkit anykernel: a file system that lives entirely in
//! kernel memory, like NetBSD's and Linux's tmpfs.
//!
//! It is a driver like any other: a [`Component`] ([`COMPONENT`], faction
//! vfs) whose `init` registers the file-system type `"tmpfs"`. It depends on
//! the kernel API (`rumpkit-kernel`) only, is `#![no_std]` + `alloc`, and uses
//! no `unsafe`.
//!
//! # Data structures
//!
//! * The inode table is a [`KVec`] of inodes sorted by inode number. Inode
//!   numbers count up from 2 and are never reused within a mount, so a stale
//!   number held by a racing system call answers `ENOENT` instead of finding
//!   a stranger.
//! * A regular file's data is one `KVec<u8>`; a symlink's target likewise.
//! * A directory is a `KVec` of entries sorted by name, so `getdents` lists
//!   `.`, `..`, then the names in byte order: deterministic, whatever the
//!   order of creation. Its cookies are positions in that order.
//!
//! Every allocation goes through the kernel's fallible allocator with a site
//! name (`tmpfs.inode`, `tmpfs.dirent`, `tmpfs.name`, `tmpfs.data`), and every
//! operation allocates everything it needs *before* changing anything; so an
//! injected allocation failure gives `ENOMEM` and leaves the file system as it
//! was.
//!
//! # Mount options
//!
//! The `source` argument of `mount` carries comma-separated options (tmpfs has
//! no device, so Linux's data string goes there): `size=N` with an optional
//! `K`, `M` or `G` suffix limits the bytes of file data and symlink targets
//! (`ENOSPC` beyond; a write that fits partly is cut short, as on Linux);
//! `size=0` means no limit. Without `size`, the limit is 64 MiB (Linux takes
//! half of RAM); memory runs out with `ENOMEM` before that if the kernel's own
//! limit is lower. Words without `=` (such as `tmpfs` or `none`) are taken as
//! a device name and ignored; an unknown option is `EINVAL`.
//!
//! Storage is dense: a write far past the end of a file fills the gap with
//! zero bytes that count towards the limit (Linux would leave a hole).
//!
//! # Concurrency
//!
//! Each mount keeps its state behind one [`KRwLock`]: lookups, reads,
//! `getattr` and `readdir` share it, everything that changes the file system
//! takes it exclusively. Each driver call is atomic; a system call made of
//! several driver calls (lookup, then create) is not, exactly as with a real
//! kernel's vnode locks, and the vfs copes with the races that follow.
//!
//! Access times are set at creation and not updated by reads (like a
//! `noatime` mount); modification and change times follow POSIX. All times
//! come from the hypercall wall clock.
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;

use alloc::sync::Arc;

use rumpkit_kernel::hypercall::Hypercalls;
use rumpkit_kernel::kernel::parse_size;
use rumpkit_kernel::kmem::{kvec_from_slice, try_resize_zeroed, KAlloc, KBox, KVec, TryPush};
use rumpkit_kernel::sync::KRwLock;
use rumpkit_kernel::vfs::{
    box_file_system, Attr, DirEntry, FileSystem, FileSystemType, Ino, MountRequest, NodeKind,
    SetAttr, StatFs, WriteAt, Written,
};
use rumpkit_kernel::{Component, Errno, Faction, KResult, Kernel};

/// The limit on file data when the mount gives no `size` option.
pub const DEFAULT_SIZE_BYTES: u64 = 64 << 20;
/// The block size `stat` and `statfs` report.
const BLOCK_SIZE: u64 = 4096;
/// The root directory's inode number.
const ROOT_INO: Ino = 2;

/// The tmpfs component: pass it to `Kernel::boot` with the vfs faction.
pub static COMPONENT: TmpfsComponent = TmpfsComponent;

/// The file-system type `"tmpfs"`, registered by [`COMPONENT`].
pub static TMPFS: TmpfsType = TmpfsType;

/// The tmpfs driver as a kernel component.
pub struct TmpfsComponent;

impl Component for TmpfsComponent {
    fn name(&self) -> &'static str {
        "tmpfs"
    }

    fn faction(&self) -> Faction {
        Faction::Vfs
    }

    fn init(&self, kernel: &Kernel) -> KResult<()> {
        kernel.vfs()?.register_fstype(&TMPFS)
    }
}

/// The tmpfs file-system type.
pub struct TmpfsType;

/// Mount options, parsed from the `source` string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TmpfsOptions {
    /// The limit on file data and symlink targets, in bytes; `None` for none.
    pub size_limit_bytes: Option<u64>,
}

impl TmpfsOptions {
    /// Parses `size=64K,...`; `EINVAL` for what it does not understand.
    pub fn parse(source: &[u8]) -> KResult<TmpfsOptions> {
        let text = core::str::from_utf8(source).map_err(|_| Errno::EINVAL)?;
        let mut options = TmpfsOptions {
            size_limit_bytes: Some(DEFAULT_SIZE_BYTES),
        };
        for item in text.split(',').filter(|item| !item.is_empty()) {
            let Some((key, value)) = item.split_once('=') else {
                continue; // a device name such as "tmpfs" or "none"
            };
            match key {
                "size" => {
                    let bytes = parse_size(value).ok_or(Errno::EINVAL)?;
                    options.size_limit_bytes = (bytes != 0).then_some(bytes as u64);
                }
                _ => return Err(Errno::EINVAL),
            }
        }
        Ok(options)
    }
}

impl FileSystemType for TmpfsType {
    fn name(&self) -> &'static str {
        "tmpfs"
    }

    fn mount(&self, kernel: &Kernel, request: &MountRequest<'_>) -> KResult<KBox<dyn FileSystem>> {
        let options = TmpfsOptions::parse(request.source)?;
        let alloc = request.alloc.with_site("tmpfs.inode");
        let platform = kernel.platform().clone();
        let now = wall_ns(&platform);
        let mut inodes: KVec<Inode> = alloc.vec();
        inodes.try_reserve(16).map_err(|_| Errno::ENOMEM)?;
        inodes.push(Inode::new(
            &alloc,
            ROOT_INO,
            NodeKind::Dir,
            0o1777,
            ROOT_INO,
            now,
        ));
        let state = State {
            alloc,
            inodes,
            next_ino: ROOT_INO + 1,
            used_bytes: 0,
            limit_bytes: options.size_limit_bytes.unwrap_or(u64::MAX),
        };
        let fs = Tmpfs {
            state: KRwLock::new(&platform, "tmpfs.mount", state),
            platform,
        };
        box_file_system(request.alloc, fs)
    }
}

fn wall_ns(platform: &Arc<dyn Hypercalls>) -> i64 {
    i64::try_from(platform.clock_wall_ns()).unwrap_or(i64::MAX)
}

struct Entry {
    name: KVec<u8>,
    ino: Ino,
}

struct Inode {
    ino: Ino,
    kind: NodeKind,
    mode: u32,
    nlink: u32,
    /// Open files on this inode; an unlinked inode lives until it reaches 0.
    opens: u32,
    /// A directory's parent (the root's is itself).
    parent: Ino,
    /// A file's data or a symlink's target.
    data: KVec<u8>,
    /// A directory's entries, sorted by name.
    entries: KVec<Entry>,
    atime_ns: i64,
    mtime_ns: i64,
    ctime_ns: i64,
}

impl Inode {
    fn new(alloc: &KAlloc, ino: Ino, kind: NodeKind, mode: u32, parent: Ino, now: i64) -> Inode {
        Inode {
            ino,
            kind,
            mode: mode & 0o7777,
            nlink: if kind == NodeKind::Dir { 2 } else { 1 },
            opens: 0,
            parent,
            data: alloc.with_site("tmpfs.data").vec(),
            entries: alloc.with_site("tmpfs.dirent").vec(),
            atime_ns: now,
            mtime_ns: now,
            ctime_ns: now,
        }
    }

    fn find(&self, name: &[u8]) -> Result<usize, usize> {
        self.entries
            .binary_search_by(|entry| entry.name.as_slice().cmp(name))
    }
}

struct State {
    alloc: KAlloc,
    inodes: KVec<Inode>,
    next_ino: Ino,
    used_bytes: u64,
    limit_bytes: u64,
}

impl State {
    fn index(&self, ino: Ino) -> KResult<usize> {
        self.inodes
            .binary_search_by_key(&ino, |inode| inode.ino)
            .map_err(|_| Errno::ENOENT)
    }

    fn dir_index(&self, ino: Ino) -> KResult<usize> {
        let index = self.index(ino)?;
        match self.inodes[index].kind {
            NodeKind::Dir => Ok(index),
            _ => Err(Errno::ENOTDIR),
        }
    }

    /// A live directory (not removed) that entries may be added to.
    fn live_dir_index(&self, ino: Ino) -> KResult<usize> {
        let index = self.dir_index(ino)?;
        if self.inodes[index].nlink == 0 {
            return Err(Errno::ENOENT);
        }
        Ok(index)
    }

    fn entry(&self, dir: usize, name: &[u8]) -> KResult<(usize, Ino)> {
        let position = self.inodes[dir].find(name).map_err(|_| Errno::ENOENT)?;
        Ok((position, self.inodes[dir].entries[position].ino))
    }

    fn charge(&self, bytes: u64) -> KResult<()> {
        match self.used_bytes.checked_add(bytes) {
            Some(total) if total <= self.limit_bytes => Ok(()),
            _ => Err(Errno::ENOSPC),
        }
    }

    /// Frees inode `ino` if nothing refers to it any more.
    fn reap(&mut self, ino: Ino) {
        let Ok(index) = self.index(ino) else { return };
        let inode = &self.inodes[index];
        if inode.nlink == 0 && inode.opens == 0 {
            debug_assert!(inode.entries.is_empty(), "a reaped directory is empty");
            self.used_bytes -= inode.data.len() as u64;
            self.inodes.remove(index);
        }
    }

    /// Whether `ancestor` is `ino` or lies above it.
    fn is_ancestor(&self, ancestor: Ino, mut ino: Ino) -> bool {
        // Bounded by the number of directories.
        for _ in 0..=self.inodes.len() {
            if ino == ancestor {
                return true;
            }
            let Ok(index) = self.index(ino) else {
                return false;
            };
            let parent = self.inodes[index].parent;
            if parent == ino {
                return false;
            }
            ino = parent;
        }
        false
    }

    /// Creates a node of `kind` called `name` in `dir`; for a symlink, `data`
    /// is its target. All allocation happens before anything changes.
    fn create(
        &mut self,
        dir: Ino,
        name: &[u8],
        kind: NodeKind,
        mode: u32,
        data: &[u8],
        now: i64,
    ) -> KResult<Ino> {
        let dir_index = self.live_dir_index(dir)?;
        let position = match self.inodes[dir_index].find(name) {
            Ok(_) => return Err(Errno::EEXIST),
            Err(position) => position,
        };
        self.charge(data.len() as u64)?;
        let name = kvec_from_slice(&self.alloc.with_site("tmpfs.name"), name)?;
        let mut inode = Inode::new(&self.alloc, self.next_ino, kind, mode, dir, now);
        inode.data.try_extend_from_slice(data)?;
        self.inodes.try_reserve(1).map_err(|_| Errno::ENOMEM)?;
        self.inodes[dir_index]
            .entries
            .try_reserve(1)
            .map_err(|_| Errno::ENOMEM)?;
        // Nothing below allocates.
        let ino = inode.ino;
        self.next_ino += 1;
        self.used_bytes += data.len() as u64;
        let directory = &mut self.inodes[dir_index];
        directory.entries.insert(position, Entry { name, ino });
        if kind == NodeKind::Dir {
            directory.nlink += 1;
        }
        directory.mtime_ns = now;
        directory.ctime_ns = now;
        // Inode numbers only grow, so pushing keeps the table sorted.
        self.inodes.push(inode);
        Ok(ino)
    }
}

/// One mounted tmpfs.
struct Tmpfs {
    platform: Arc<dyn Hypercalls>,
    state: KRwLock<State>,
}

impl Tmpfs {
    fn now(&self) -> i64 {
        wall_ns(&self.platform)
    }
}

impl FileSystem for Tmpfs {
    fn root(&self) -> Ino {
        ROOT_INO
    }

    fn lookup(&self, dir: Ino, name: &[u8]) -> KResult<Ino> {
        let state = self.state.read();
        let dir_index = state.dir_index(dir)?;
        if name == b".." {
            return Ok(state.inodes[dir_index].parent);
        }
        state.entry(dir_index, name).map(|(_, ino)| ino)
    }

    fn create(&self, dir: Ino, name: &[u8], mode: u32) -> KResult<Ino> {
        let now = self.now();
        self.state
            .write()
            .create(dir, name, NodeKind::File, mode, &[], now)
    }

    fn mkdir(&self, dir: Ino, name: &[u8], mode: u32) -> KResult<Ino> {
        let now = self.now();
        self.state
            .write()
            .create(dir, name, NodeKind::Dir, mode, &[], now)
    }

    fn symlink(&self, dir: Ino, name: &[u8], target: &[u8]) -> KResult<Ino> {
        let now = self.now();
        self.state
            .write()
            .create(dir, name, NodeKind::Symlink, 0o777, target, now)
    }

    fn link(&self, dir: Ino, name: &[u8], target: Ino) -> KResult<()> {
        let now = self.now();
        let mut state = self.state.write();
        let target_index = state.index(target)?;
        if state.inodes[target_index].kind == NodeKind::Dir {
            return Err(Errno::EPERM);
        }
        if state.inodes[target_index].nlink == 0 {
            return Err(Errno::ENOENT);
        }
        if state.inodes[target_index].nlink == u32::MAX {
            return Err(Errno::EMLINK);
        }
        let dir_index = state.live_dir_index(dir)?;
        let position = match state.inodes[dir_index].find(name) {
            Ok(_) => return Err(Errno::EEXIST),
            Err(position) => position,
        };
        let name = kvec_from_slice(&state.alloc.with_site("tmpfs.name"), name)?;
        let directory = &mut state.inodes[dir_index];
        directory
            .entries
            .try_insert(position, Entry { name, ino: target })?;
        directory.mtime_ns = now;
        directory.ctime_ns = now;
        let inode = &mut state.inodes[target_index];
        inode.nlink += 1;
        inode.ctime_ns = now;
        Ok(())
    }

    fn unlink(&self, dir: Ino, name: &[u8]) -> KResult<()> {
        let now = self.now();
        let mut state = self.state.write();
        let dir_index = state.dir_index(dir)?;
        let (position, ino) = state.entry(dir_index, name)?;
        let index = state.index(ino)?;
        if state.inodes[index].kind == NodeKind::Dir {
            return Err(Errno::EISDIR);
        }
        let directory = &mut state.inodes[dir_index];
        directory.entries.remove(position);
        directory.mtime_ns = now;
        directory.ctime_ns = now;
        let inode = &mut state.inodes[index];
        inode.nlink -= 1;
        inode.ctime_ns = now;
        state.reap(ino);
        Ok(())
    }

    fn rmdir(&self, dir: Ino, name: &[u8]) -> KResult<()> {
        let now = self.now();
        let mut state = self.state.write();
        let dir_index = state.dir_index(dir)?;
        let (position, ino) = state.entry(dir_index, name)?;
        let index = state.index(ino)?;
        let inode = &state.inodes[index];
        if inode.kind != NodeKind::Dir {
            return Err(Errno::ENOTDIR);
        }
        if !inode.entries.is_empty() {
            return Err(Errno::ENOTEMPTY);
        }
        let directory = &mut state.inodes[dir_index];
        directory.entries.remove(position);
        directory.nlink -= 1;
        directory.mtime_ns = now;
        directory.ctime_ns = now;
        let inode = &mut state.inodes[index];
        inode.nlink = 0;
        inode.ctime_ns = now;
        state.reap(ino);
        Ok(())
    }

    fn rename(&self, from_dir: Ino, from_name: &[u8], to_dir: Ino, to_name: &[u8]) -> KResult<()> {
        let now = self.now();
        let mut state = self.state.write();
        let from_index = state.dir_index(from_dir)?;
        let to_index = state.live_dir_index(to_dir)?;
        let (_, source) = state.entry(from_index, from_name)?;
        let source_kind = state.inodes[state.index(source)?].kind;
        let is_dir = source_kind == NodeKind::Dir;
        // Linux's order: source above the target directory is EINVAL, the
        // target above the source directory ENOTEMPTY, then the types.
        if is_dir && state.is_ancestor(source, to_dir) {
            return Err(Errno::EINVAL);
        }
        let replaced = match state.inodes[to_index].find(to_name) {
            Ok(position) => Some(state.inodes[to_index].entries[position].ino),
            Err(_) => None,
        };
        if let Some(target) = replaced {
            if target == source {
                return Ok(());
            }
            if state.is_ancestor(target, from_dir) {
                return Err(Errno::ENOTEMPTY);
            }
            let target_inode = &state.inodes[state.index(target)?];
            match (is_dir, target_inode.kind == NodeKind::Dir) {
                (false, true) => return Err(Errno::EISDIR),
                (true, false) => return Err(Errno::ENOTDIR),
                (true, true) if !target_inode.entries.is_empty() => return Err(Errno::ENOTEMPTY),
                _ => {}
            }
        }
        // Allocate before changing anything: a new name, room for an entry.
        let new_entry = match replaced {
            Some(_) => None,
            None => {
                let name = kvec_from_slice(&state.alloc.with_site("tmpfs.name"), to_name)?;
                state.inodes[to_index]
                    .entries
                    .try_reserve(1)
                    .map_err(|_| Errno::ENOMEM)?;
                Some(name)
            }
        };
        // Take the source name out.
        let (from_position, _) = state.entry(from_index, from_name)?;
        let from_directory = &mut state.inodes[from_index];
        from_directory.entries.remove(from_position);
        from_directory.mtime_ns = now;
        from_directory.ctime_ns = now;
        // Put it in under the new name, or over the replaced entry.
        let to_directory = &mut state.inodes[to_index];
        match new_entry {
            Some(name) => {
                let position = to_directory
                    .find(&name)
                    .expect_err("target name checked absent above");
                to_directory
                    .entries
                    .insert(position, Entry { name, ino: source });
            }
            None => {
                let position = to_directory
                    .find(to_name)
                    .expect("replaced entry is present");
                to_directory.entries[position].ino = source;
            }
        }
        to_directory.mtime_ns = now;
        to_directory.ctime_ns = now;
        if is_dir && from_dir != to_dir {
            state.inodes[from_index].nlink -= 1;
            state.inodes[to_index].nlink += 1;
        }
        let source_index = state.index(source)?;
        let source_inode = &mut state.inodes[source_index];
        source_inode.ctime_ns = now;
        if is_dir {
            source_inode.parent = to_dir;
        }
        if let Some(target) = replaced {
            let target_index = state.index(target)?;
            let target_inode = &mut state.inodes[target_index];
            target_inode.ctime_ns = now;
            if target_inode.kind == NodeKind::Dir {
                target_inode.nlink = 0;
                state.inodes[to_index].nlink -= 1;
            } else {
                target_inode.nlink -= 1;
            }
            state.reap(target);
        }
        Ok(())
    }

    fn readlink(&self, ino: Ino, buf: &mut [u8]) -> KResult<usize> {
        let state = self.state.read();
        let inode = &state.inodes[state.index(ino)?];
        if inode.kind != NodeKind::Symlink {
            return Err(Errno::EINVAL);
        }
        let count = inode.data.len().min(buf.len());
        buf[..count].copy_from_slice(&inode.data[..count]);
        Ok(count)
    }

    fn read(&self, ino: Ino, offset: u64, buf: &mut [u8]) -> KResult<usize> {
        let state = self.state.read();
        let inode = &state.inodes[state.index(ino)?];
        match inode.kind {
            NodeKind::File => {}
            NodeKind::Dir => return Err(Errno::EISDIR),
            _ => return Err(Errno::EINVAL),
        }
        let length = inode.data.len() as u64;
        if offset >= length {
            return Ok(0);
        }
        let start = offset as usize;
        let count = buf.len().min(inode.data.len() - start);
        buf[..count].copy_from_slice(&inode.data[start..start + count]);
        Ok(count)
    }

    fn write(&self, ino: Ino, at: WriteAt, data: &[u8]) -> KResult<Written> {
        let now = self.now();
        let mut state = self.state.write();
        let index = state.index(ino)?;
        match state.inodes[index].kind {
            NodeKind::File => {}
            NodeKind::Dir => return Err(Errno::EISDIR),
            _ => return Err(Errno::EINVAL),
        }
        let length = state.inodes[index].data.len() as u64;
        let offset = match at {
            WriteAt::Offset(offset) => offset,
            WriteAt::End => length,
        };
        // Cut the write short where the size limit falls.
        let room_end = (state.limit_bytes.saturating_sub(state.used_bytes)).saturating_add(length);
        let wanted_end = offset.checked_add(data.len() as u64).ok_or(Errno::EFBIG)?;
        let end = wanted_end.min(room_end);
        if end <= offset {
            return Err(Errno::ENOSPC);
        }
        let count = (end - offset) as usize;
        let end_index = usize::try_from(end).map_err(|_| Errno::EFBIG)?;
        let growth = end.saturating_sub(length);
        let inode = &mut state.inodes[index];
        if end_index > inode.data.len() {
            try_resize_zeroed(&mut inode.data, end_index)?;
        }
        inode.data[offset as usize..end_index].copy_from_slice(&data[..count]);
        inode.mtime_ns = now;
        inode.ctime_ns = now;
        state.used_bytes += growth;
        Ok(Written { bytes: count, end })
    }

    fn truncate(&self, ino: Ino, length: u64) -> KResult<()> {
        let now = self.now();
        let mut state = self.state.write();
        let index = state.index(ino)?;
        match state.inodes[index].kind {
            NodeKind::File => {}
            NodeKind::Dir => return Err(Errno::EISDIR),
            _ => return Err(Errno::EINVAL),
        }
        let old = state.inodes[index].data.len() as u64;
        if length > old {
            state.charge(length - old)?;
        }
        let new_length = usize::try_from(length).map_err(|_| Errno::EFBIG)?;
        let empty = state.alloc.with_site("tmpfs.data").vec();
        let inode = &mut state.inodes[index];
        if new_length == 0 {
            // Give the memory back (shrinking in place could need to allocate).
            inode.data = empty;
        } else if new_length > inode.data.len() {
            try_resize_zeroed(&mut inode.data, new_length)?;
        } else {
            inode.data.truncate(new_length);
        }
        let inode = &mut state.inodes[index];
        inode.mtime_ns = now;
        inode.ctime_ns = now;
        state.used_bytes = state.used_bytes - old + length;
        Ok(())
    }

    fn getattr(&self, ino: Ino) -> KResult<Attr> {
        let state = self.state.read();
        let inode = &state.inodes[state.index(ino)?];
        let size = match inode.kind {
            NodeKind::Dir => (inode.entries.len() as u64 + 2) * 20,
            _ => inode.data.len() as u64,
        };
        Ok(Attr {
            ino,
            kind: inode.kind,
            mode: inode.mode,
            nlink: inode.nlink,
            size,
            blocks: (inode.data.len() as u64).div_ceil(BLOCK_SIZE) * (BLOCK_SIZE / 512),
            rdev: 0,
            atime_ns: inode.atime_ns,
            mtime_ns: inode.mtime_ns,
            ctime_ns: inode.ctime_ns,
        })
    }

    fn setattr(&self, ino: Ino, change: &SetAttr) -> KResult<()> {
        let now = self.now();
        let mut state = self.state.write();
        let index = state.index(ino)?;
        let inode = &mut state.inodes[index];
        if let Some(mode) = change.mode {
            inode.mode = mode & 0o7777;
        }
        inode.ctime_ns = now;
        Ok(())
    }

    fn readdir(
        &self,
        dir: Ino,
        cookie: u64,
        sink: &mut dyn FnMut(&DirEntry<'_>) -> bool,
    ) -> KResult<()> {
        let state = self.state.read();
        let dir_index = state.dir_index(dir)?;
        let directory = &state.inodes[dir_index];
        if directory.nlink == 0 {
            return Ok(()); // removed: empty, not even `.` and `..`
        }
        let total = directory.entries.len() as u64 + 2;
        for position in cookie..total {
            let (ino, name): (Ino, &[u8]) = match position {
                0 => (dir, b"."),
                1 => (directory.parent, b".."),
                _ => {
                    let entry = &directory.entries[(position - 2) as usize];
                    (entry.ino, &entry.name)
                }
            };
            let index = state
                .index(ino)
                .expect("tmpfs: every directory entry names a live inode");
            let kind = state.inodes[index].kind;
            let entry = DirEntry {
                ino,
                kind,
                name,
                next_cookie: position + 1,
            };
            if !sink(&entry) {
                break;
            }
        }
        Ok(())
    }

    fn statfs(&self) -> KResult<StatFs> {
        let state = self.state.read();
        let blocks = if state.limit_bytes == u64::MAX {
            u64::MAX / BLOCK_SIZE
        } else {
            state.limit_bytes / BLOCK_SIZE
        };
        let used = state.used_bytes.div_ceil(BLOCK_SIZE);
        Ok(StatFs {
            block_size: BLOCK_SIZE as u32,
            blocks,
            blocks_free: blocks.saturating_sub(used),
            files: state.inodes.len() as u64,
            name_max: 255,
        })
    }

    fn open(&self, ino: Ino) -> KResult<()> {
        let mut state = self.state.write();
        let index = state.index(ino)?;
        state.inodes[index].opens += 1;
        Ok(())
    }

    fn release(&self, ino: Ino) {
        let mut state = self.state.write();
        let Ok(index) = state.index(ino) else { return };
        let inode = &mut state.inodes[index];
        assert!(inode.opens > 0, "tmpfs: release without open");
        inode.opens -= 1;
        state.reap(ino);
    }
}
