//! The file system calls, with the errno rules Linux follows. Each takes the
//! mount table shared (exclusive for `mount`/`unmount`) for its whole length
//! and references to open files for as long as it uses them.

use crate::errno::{Errno, KResult};
use crate::kernel::Kernel;
use crate::kmem::{KVec, TryPush};
use crate::syscall::abi::{
    MNT_FORCE, O_ACCMODE, O_APPEND, O_CREAT, O_DIRECTORY, O_EXCL, O_NOFOLLOW, O_RDONLY, O_RDWR,
    O_TRUNC, O_WRONLY, SEEK_CUR, SEEK_DATA, SEEK_END, SEEK_HOLE, SEEK_SET, UMOUNT_NOFOLLOW,
};
use crate::syscall::proc::{FileRef, FileTarget, Released};
use crate::syscall::{Fd, Pid, Stat};
use crate::vfs::devfs::{self, DevFs, DEVFS_NAME};
use crate::vfs::fs::{Attr, MountRequest, NodeKind, SetAttr, WriteAt};
use crate::vfs::mount::{Mount, MountFs, MountTable, Node};
use crate::vfs::namei::{
    check_path, resolve, resolve_parent, resolve_parent_at, Last, Parent, Resolved, MAX_SYMLINKS,
    PATH_MAX,
};
use crate::vfs::VfsFaction;

/// What `open(O_CREAT)` found under the last name.
enum Found {
    /// A node that is not a symlink (maybe just created).
    Node(Resolved),
    /// A symlink, with the length of its target.
    Symlink(Node, u64),
}

/// How many times `open(O_CREAT)` retries when the name it saw missing was
/// created by someone else before it could create it.
const CREATE_RETRIES: usize = 4;

fn stat_of(mount: &Mount, attr: &Attr) -> Stat {
    Stat {
        dev: mount.dev,
        ino: attr.ino,
        mode: attr.kind.mode_bits() | (attr.mode & 0o7777),
        nlink: attr.nlink,
        uid: 0,
        gid: 0,
        rdev: attr.rdev,
        size: i64::try_from(attr.size).unwrap_or(i64::MAX),
        blksize: 4096,
        blocks: i64::try_from(attr.blocks).unwrap_or(i64::MAX),
        atime_ns: attr.atime_ns,
        mtime_ns: attr.mtime_ns,
        ctime_ns: attr.ctime_ns,
    }
}

fn release(table: &MountTable, released: Released) {
    if let Some((mount, ino)) = released {
        table.get(mount).fs().release(ino);
    }
}

/// Creating calls (`link`, `symlink`) on a name with a trailing slash: Linux
/// answers `EEXIST` if the name exists, `ENOENT` if not.
fn trailing_slash_create(table: &MountTable, parent: &Parent) -> KResult<()> {
    if parent.trailing_slash {
        let fs = table.get(parent.dir.mount).fs();
        return match fs.lookup(parent.dir.ino, parent.name.as_bytes()) {
            Ok(_) => Err(Errno::EEXIST),
            Err(_) => Err(Errno::ENOENT),
        };
    }
    Ok(())
}

impl VfsFaction {
    fn with_file<T>(
        &self,
        kernel: &Kernel,
        pid: Pid,
        fd: Fd,
        body: impl FnOnce(&MountTable, &FileRef) -> KResult<T>,
    ) -> KResult<T> {
        let table = self.mounts.read();
        let file = kernel.procs.get(pid, fd)?;
        let result = body(&table, &file);
        release(&table, kernel.procs.put(&file));
        result
    }

    pub(crate) fn open(
        &self,
        kernel: &Kernel,
        pid: Pid,
        path: &[u8],
        flags: u32,
        mode: u32,
    ) -> KResult<Fd> {
        // Linux (since 6.4) refuses O_CREAT | O_DIRECTORY outright. Access
        // mode 3 (`O_ACCMODE`) is Linux's "neither read nor write" mode: the
        // open succeeds, reads and writes on the descriptor give EBADF.
        if flags & (O_CREAT | O_DIRECTORY) == O_CREAT | O_DIRECTORY {
            return Err(Errno::EINVAL);
        }
        check_path(path)?;
        let table = self.mounts.read();
        let (fd, slot) = kernel.procs.reserve(pid)?;
        match self.open_node(kernel, &table, path, flags, mode) {
            Ok(target) => {
                release(&table, kernel.procs.install(slot, target));
                Ok(fd)
            }
            Err(errno) => {
                kernel.procs.abort(pid, fd, slot);
                Err(errno)
            }
        }
    }

    /// `open(O_CREAT)`'s lookup: finds the last component or creates it. A
    /// symlink there is followed (unless `O_NOFOLLOW` or `O_EXCL`), and if
    /// it dangles, its target is created, as Linux does.
    fn create_or_find(
        &self,
        table: &MountTable,
        path: &[u8],
        flags: u32,
        mode: u32,
    ) -> KResult<Resolved> {
        let mut followed: Option<(Node, KVec<u8>)> = None;
        for _ in 0..=MAX_SYMLINKS {
            let parent = match &followed {
                None => resolve_parent(table, &self.alloc, path)?,
                Some((start, target)) => resolve_parent_at(table, &self.alloc, *start, target)?,
            };
            if parent.last != Last::Name || parent.trailing_slash {
                return Err(Errno::EISDIR);
            }
            match self.find_or_create(table, &parent, flags, mode)? {
                Found::Node(resolved) => return Ok(resolved),
                Found::Symlink(node, size) => {
                    if flags & O_NOFOLLOW != 0 {
                        return Err(Errno::ELOOP);
                    }
                    let mut target: KVec<u8> = self.alloc.with_site("vfs.path").vec();
                    target.try_resize(size.min(PATH_MAX as u64) as usize, 0)?;
                    let length = table.get(node.mount).fs().readlink(node.ino, &mut target)?;
                    target.truncate(length);
                    if target.is_empty() {
                        return Err(Errno::ENOENT);
                    }
                    followed = Some((parent.dir, target));
                }
            }
        }
        Err(Errno::ELOOP)
    }

    fn find_or_create(
        &self,
        table: &MountTable,
        parent: &Parent,
        flags: u32,
        mode: u32,
    ) -> KResult<Found> {
        let fs = table.get(parent.dir.mount).fs();
        let name = parent.name.as_bytes();
        for _ in 0..CREATE_RETRIES {
            match fs.lookup(parent.dir.ino, name) {
                Ok(ino) => {
                    if flags & O_EXCL != 0 {
                        return Err(Errno::EEXIST);
                    }
                    let node = table.cross_down(Node {
                        mount: parent.dir.mount,
                        ino,
                    });
                    let attr = match table.get(node.mount).fs().getattr(node.ino) {
                        Ok(attr) => attr,
                        // Removed since the lookup: look again (and create).
                        Err(Errno::ENOENT) => continue,
                        Err(errno) => return Err(errno),
                    };
                    if attr.kind == NodeKind::Symlink {
                        return Ok(Found::Symlink(node, attr.size));
                    }
                    return Ok(Found::Node(Resolved { node, attr }));
                }
                Err(Errno::ENOENT) => match fs.create(parent.dir.ino, name, mode & 0o7777) {
                    Ok(ino) => {
                        let attr = fs.getattr(ino)?;
                        let node = Node {
                            mount: parent.dir.mount,
                            ino,
                        };
                        return Ok(Found::Node(Resolved { node, attr }));
                    }
                    Err(Errno::EEXIST) if flags & O_EXCL == 0 => continue,
                    Err(errno) => return Err(errno),
                },
                Err(errno) => return Err(errno),
            }
        }
        Err(Errno::EEXIST)
    }

    fn open_node(
        &self,
        kernel: &Kernel,
        table: &MountTable,
        path: &[u8],
        flags: u32,
        mode: u32,
    ) -> KResult<FileTarget> {
        // With O_CREAT, a file that vanishes between lookup and open (another
        // thread unlinked it) is looked up, or created, again: open(O_CREAT)
        // does not answer ENOENT for a path whose directory exists.
        let mut attempts = 0;
        loop {
            let result = self.open_once(kernel, table, path, flags, mode);
            attempts += 1;
            match result {
                Err(Errno::ENOENT) if flags & O_CREAT != 0 && attempts < CREATE_RETRIES => {}
                other => return other,
            }
        }
    }

    fn open_once(
        &self,
        kernel: &Kernel,
        table: &MountTable,
        path: &[u8],
        flags: u32,
        mode: u32,
    ) -> KResult<FileTarget> {
        let resolved = if flags & O_CREAT != 0 {
            self.create_or_find(table, path, flags, mode)?
        } else {
            resolve(table, &self.alloc, path, flags & O_NOFOLLOW == 0)?
        };
        let kind = resolved.attr.kind;
        if kind == NodeKind::Symlink {
            return Err(Errno::ELOOP);
        }
        if flags & O_DIRECTORY != 0 && kind != NodeKind::Dir {
            return Err(Errno::ENOTDIR);
        }
        let access = flags & O_ACCMODE;
        if kind == NodeKind::Dir && (access != O_RDONLY || flags & (O_TRUNC | O_CREAT) != 0) {
            return Err(Errno::EISDIR);
        }
        let mount = table.get(resolved.node.mount);
        let bdev = match (kind, &mount.fs) {
            (NodeKind::BlockDevice, MountFs::Dev(devfs)) => {
                kernel.dev().map_err(|_| Errno::ENXIO)?;
                Some(devfs.bdev(resolved.node.ino)?)
            }
            (NodeKind::BlockDevice | NodeKind::CharDevice, _) => return Err(Errno::ENXIO),
            _ => None,
        };
        let fs = mount.fs();
        fs.open(resolved.node.ino)?;
        if flags & O_TRUNC != 0 && kind == NodeKind::File {
            if let Err(errno) = fs.truncate(resolved.node.ino, 0) {
                fs.release(resolved.node.ino);
                return Err(errno);
            }
        }
        Ok(FileTarget {
            mount: resolved.node.mount,
            ino: resolved.node.ino,
            kind,
            flags,
            bdev,
        })
    }

    pub(crate) fn close(&self, kernel: &Kernel, pid: Pid, fd: Fd) -> KResult<()> {
        let table = self.mounts.read();
        let released = kernel.procs.close(pid, fd)?;
        release(&table, released);
        Ok(())
    }

    pub(crate) fn dup(&self, kernel: &Kernel, pid: Pid, fd: Fd) -> KResult<Fd> {
        let _table = self.mounts.read();
        kernel.procs.dup(pid, fd)
    }

    /// Reads at `at`, or at (and advancing) the file offset.
    pub(crate) fn read(
        &self,
        kernel: &Kernel,
        pid: Pid,
        fd: Fd,
        buf: &mut [u8],
        at: Option<i64>,
    ) -> KResult<usize> {
        if at.is_some_and(|offset| offset < 0) {
            return Err(Errno::EINVAL);
        }
        self.with_file(kernel, pid, fd, |table, file| {
            let target = &file.target;
            if !readable(target.flags) {
                return Err(Errno::EBADF);
            }
            let offset = match at {
                Some(offset) => u64::try_from(offset).map_err(|_| Errno::EINVAL)?,
                None => file.offset,
            };
            let count = match target.kind {
                NodeKind::File => table.get(target.mount).fs().read(target.ino, offset, buf)?,
                NodeKind::Dir => return Err(Errno::EISDIR),
                NodeKind::BlockDevice => {
                    let bdev = target.bdev.ok_or(Errno::ENXIO)?;
                    devfs::bdev_read(kernel, bdev, offset, buf)?
                }
                NodeKind::Symlink | NodeKind::CharDevice => return Err(Errno::EINVAL),
            };
            if at.is_none() {
                kernel.procs.set_offset(file, offset + count as u64);
            }
            Ok(count)
        })
    }

    /// Writes at `at`, or at (and advancing) the file offset; `O_APPEND`
    /// files are written at their end either way, as Linux does.
    pub(crate) fn write(
        &self,
        kernel: &Kernel,
        pid: Pid,
        fd: Fd,
        data: &[u8],
        at: Option<i64>,
    ) -> KResult<usize> {
        if at.is_some_and(|offset| offset < 0) {
            return Err(Errno::EINVAL);
        }
        self.with_file(kernel, pid, fd, |table, file| {
            let target = &file.target;
            if !writable(target.flags) {
                return Err(Errno::EBADF);
            }
            let offset = match at {
                Some(offset) => u64::try_from(offset).map_err(|_| Errno::EINVAL)?,
                None => file.offset,
            };
            if data.is_empty() {
                return Ok(0);
            }
            let end_wanted = offset
                .checked_add(data.len() as u64)
                .filter(|end| *end <= i64::MAX as u64)
                .ok_or(Errno::EFBIG)?;
            let (count, end) = match target.kind {
                NodeKind::File => {
                    let place = if target.flags & O_APPEND != 0 {
                        WriteAt::End
                    } else {
                        WriteAt::Offset(offset)
                    };
                    let written = table
                        .get(target.mount)
                        .fs()
                        .write(target.ino, place, data)?;
                    (written.bytes, written.end)
                }
                NodeKind::Dir => return Err(Errno::EISDIR),
                NodeKind::BlockDevice => {
                    let bdev = target.bdev.ok_or(Errno::ENXIO)?;
                    let count = devfs::bdev_write(kernel, bdev, offset, data)?;
                    (count, offset + count as u64)
                }
                NodeKind::Symlink | NodeKind::CharDevice => return Err(Errno::EINVAL),
            };
            debug_assert!(
                count <= data.len() && (target.flags & O_APPEND != 0 || end <= end_wanted)
            );
            if at.is_none() {
                kernel.procs.set_offset(file, end);
            }
            Ok(count)
        })
    }

    pub(crate) fn lseek(
        &self,
        kernel: &Kernel,
        pid: Pid,
        fd: Fd,
        offset: i64,
        whence: u32,
    ) -> KResult<u64> {
        self.with_file(kernel, pid, fd, |table, file| {
            let target = &file.target;
            let end = || -> KResult<i64> {
                match target.kind {
                    NodeKind::Dir => Err(Errno::EINVAL),
                    NodeKind::BlockDevice => {
                        let bdev = target.bdev.ok_or(Errno::ENXIO)?;
                        let size = devfs::bdev_size(kernel, bdev)?;
                        i64::try_from(size).map_err(|_| Errno::EOVERFLOW)
                    }
                    _ => {
                        let attr = table.get(target.mount).fs().getattr(target.ino)?;
                        i64::try_from(attr.size).map_err(|_| Errno::EOVERFLOW)
                    }
                }
            };
            let base: i64 = match whence {
                SEEK_SET => 0,
                SEEK_CUR => i64::try_from(file.offset).map_err(|_| Errno::EOVERFLOW)?,
                SEEK_END => end()?,
                // As Linux's generic_file_llseek_size: the whole file is
                // data, and the only hole is the one at its end.
                SEEK_DATA | SEEK_HOLE => {
                    let end = end()?;
                    if offset < 0 || offset >= end {
                        return Err(Errno::ENXIO);
                    }
                    let new = if whence == SEEK_DATA { offset } else { end };
                    kernel.procs.set_offset(file, new as u64);
                    return Ok(new as u64);
                }
                _ => return Err(Errno::EINVAL),
            };
            let new = base.checked_add(offset).ok_or(Errno::EOVERFLOW)?;
            if new < 0 {
                return Err(Errno::EINVAL);
            }
            kernel.procs.set_offset(file, new as u64);
            Ok(new as u64)
        })
    }

    pub(crate) fn fsync(&self, kernel: &Kernel, pid: Pid, fd: Fd) -> KResult<()> {
        self.with_file(kernel, pid, fd, |table, file| {
            let target = &file.target;
            match (target.kind, target.bdev) {
                (NodeKind::BlockDevice, Some(bdev)) => devfs::bdev_flush(kernel, bdev),
                _ => table.get(target.mount).fs().fsync(target.ino),
            }
        })
    }

    pub(crate) fn ftruncate(&self, kernel: &Kernel, pid: Pid, fd: Fd, length: i64) -> KResult<()> {
        let length = u64::try_from(length).map_err(|_| Errno::EINVAL)?;
        self.with_file(kernel, pid, fd, |table, file| {
            let target = &file.target;
            if target.kind != NodeKind::File || !writable(target.flags) {
                return Err(Errno::EINVAL);
            }
            table.get(target.mount).fs().truncate(target.ino, length)
        })
    }

    pub(crate) fn truncate(&self, path: &[u8], length: i64) -> KResult<()> {
        let length = u64::try_from(length).map_err(|_| Errno::EINVAL)?;
        let table = self.mounts.read();
        let resolved = resolve(&table, &self.alloc, path, true)?;
        match resolved.attr.kind {
            NodeKind::File => {}
            NodeKind::Dir => return Err(Errno::EISDIR),
            _ => return Err(Errno::EINVAL),
        }
        table
            .get(resolved.node.mount)
            .fs()
            .truncate(resolved.node.ino, length)
    }

    pub(crate) fn stat(&self, path: &[u8], follow: bool) -> KResult<Stat> {
        let table = self.mounts.read();
        let resolved = resolve(&table, &self.alloc, path, follow)?;
        Ok(stat_of(table.get(resolved.node.mount), &resolved.attr))
    }

    pub(crate) fn fstat(&self, kernel: &Kernel, pid: Pid, fd: Fd) -> KResult<Stat> {
        self.with_file(kernel, pid, fd, |table, file| {
            let mount = table.get(file.target.mount);
            let attr = mount.fs().getattr(file.target.ino)?;
            Ok(stat_of(mount, &attr))
        })
    }

    pub(crate) fn mkdir(&self, path: &[u8], mode: u32) -> KResult<()> {
        let table = self.mounts.read();
        let parent = resolve_parent(&table, &self.alloc, path)?;
        if parent.last != Last::Name {
            return Err(Errno::EEXIST);
        }
        table
            .get(parent.dir.mount)
            .fs()
            .mkdir(parent.dir.ino, parent.name.as_bytes(), mode & 0o1777)
            .map(|_| ())
    }

    pub(crate) fn rmdir(&self, path: &[u8]) -> KResult<()> {
        let table = self.mounts.read();
        let parent = resolve_parent(&table, &self.alloc, path)?;
        match parent.last {
            Last::Root => return Err(Errno::EBUSY),
            Last::Dot => return Err(Errno::EINVAL),
            Last::DotDot => return Err(Errno::ENOTEMPTY),
            Last::Name => {}
        }
        let fs = table.get(parent.dir.mount).fs();
        let name = parent.name.as_bytes();
        let ino = fs.lookup(parent.dir.ino, name)?;
        let node = Node {
            mount: parent.dir.mount,
            ino,
        };
        if table.covering(node).is_some() {
            return Err(Errno::EBUSY);
        }
        fs.rmdir(parent.dir.ino, name)
    }

    pub(crate) fn unlink(&self, path: &[u8]) -> KResult<()> {
        let table = self.mounts.read();
        let parent = resolve_parent(&table, &self.alloc, path)?;
        if parent.last != Last::Name {
            return Err(Errno::EISDIR);
        }
        let fs = table.get(parent.dir.mount).fs();
        let name = parent.name.as_bytes();
        let ino = fs.lookup(parent.dir.ino, name)?;
        if fs.getattr(ino)?.kind == NodeKind::Dir {
            return Err(Errno::EISDIR);
        }
        if parent.trailing_slash {
            return Err(Errno::ENOTDIR);
        }
        fs.unlink(parent.dir.ino, name)
    }

    pub(crate) fn rename(&self, from: &[u8], to: &[u8]) -> KResult<()> {
        check_path(from)?;
        check_path(to)?;
        let table = self.mounts.read();
        let source = resolve_parent(&table, &self.alloc, from)?;
        let dest = resolve_parent(&table, &self.alloc, to)?;
        if source.last != Last::Name || dest.last != Last::Name {
            return Err(Errno::EBUSY);
        }
        if source.dir.mount != dest.dir.mount {
            return Err(Errno::EXDEV);
        }
        let fs = table.get(source.dir.mount).fs();
        let source_ino = fs.lookup(source.dir.ino, source.name.as_bytes())?;
        let source_node = Node {
            mount: source.dir.mount,
            ino: source_ino,
        };
        if table.covering(source_node).is_some() {
            return Err(Errno::EBUSY);
        }
        let source_kind = fs.getattr(source_ino)?.kind;
        if source_kind != NodeKind::Dir && (source.trailing_slash || dest.trailing_slash) {
            return Err(Errno::ENOTDIR);
        }
        if let Ok(dest_ino) = fs.lookup(dest.dir.ino, dest.name.as_bytes()) {
            let dest_node = Node {
                mount: dest.dir.mount,
                ino: dest_ino,
            };
            if dest_ino != source_ino && table.covering(dest_node).is_some() {
                return Err(Errno::EBUSY);
            }
        }
        fs.rename(
            source.dir.ino,
            source.name.as_bytes(),
            dest.dir.ino,
            dest.name.as_bytes(),
        )
    }

    pub(crate) fn link(&self, existing: &[u8], new: &[u8]) -> KResult<()> {
        check_path(existing)?;
        check_path(new)?;
        let table = self.mounts.read();
        let old = resolve(&table, &self.alloc, existing, false)?;
        let parent = resolve_parent(&table, &self.alloc, new)?;
        if parent.last != Last::Name {
            return Err(Errno::EEXIST);
        }
        trailing_slash_create(&table, &parent)?;
        let fs = table.get(parent.dir.mount).fs();
        if fs.lookup(parent.dir.ino, parent.name.as_bytes()).is_ok() {
            return Err(Errno::EEXIST);
        }
        if old.node.mount != parent.dir.mount {
            return Err(Errno::EXDEV);
        }
        if old.attr.kind == NodeKind::Dir {
            return Err(Errno::EPERM);
        }
        fs.link(parent.dir.ino, parent.name.as_bytes(), old.node.ino)
    }

    pub(crate) fn symlink(&self, target: &[u8], linkpath: &[u8]) -> KResult<()> {
        check_path(target)?;
        check_path(linkpath)?;
        let table = self.mounts.read();
        let parent = resolve_parent(&table, &self.alloc, linkpath)?;
        if parent.last != Last::Name {
            return Err(Errno::EEXIST);
        }
        trailing_slash_create(&table, &parent)?;
        table
            .get(parent.dir.mount)
            .fs()
            .symlink(parent.dir.ino, parent.name.as_bytes(), target)
            .map(|_| ())
    }

    pub(crate) fn readlink(&self, path: &[u8], buf: &mut [u8]) -> KResult<usize> {
        if buf.is_empty() {
            return Err(Errno::EINVAL);
        }
        let table = self.mounts.read();
        let resolved = resolve(&table, &self.alloc, path, false)?;
        if resolved.attr.kind != NodeKind::Symlink {
            return Err(Errno::EINVAL);
        }
        table
            .get(resolved.node.mount)
            .fs()
            .readlink(resolved.node.ino, buf)
    }

    pub(crate) fn chmod(&self, path: &[u8], mode: u32) -> KResult<()> {
        let table = self.mounts.read();
        let resolved = resolve(&table, &self.alloc, path, true)?;
        let change = SetAttr {
            mode: Some(mode & 0o7777),
        };
        table
            .get(resolved.node.mount)
            .fs()
            .setattr(resolved.node.ino, &change)
    }

    /// Fills `buf` with `linux_dirent64` records from the directory offset.
    pub(crate) fn getdents(
        &self,
        kernel: &Kernel,
        pid: Pid,
        fd: Fd,
        buf: &mut [u8],
    ) -> KResult<usize> {
        self.with_file(kernel, pid, fd, |table, file| {
            let target = &file.target;
            if target.kind != NodeKind::Dir {
                return Err(Errno::ENOTDIR);
            }
            let mut used = 0usize;
            let mut cookie = file.offset;
            let mut too_small = false;
            table
                .get(target.mount)
                .fs()
                .readdir(target.ino, file.offset, &mut |entry| {
                    // d_ino, d_off, d_reclen, d_type, name, NUL; 8-aligned.
                    let length = (19 + entry.name.len() + 1 + 7) & !7;
                    if used + length > buf.len() {
                        too_small = used == 0;
                        return false;
                    }
                    let record = &mut buf[used..used + length];
                    record.fill(0);
                    record[0..8].copy_from_slice(&entry.ino.to_le_bytes());
                    record[8..16].copy_from_slice(&entry.next_cookie.to_le_bytes());
                    record[16..18].copy_from_slice(&(length as u16).to_le_bytes());
                    record[18] = entry.kind.dirent_type();
                    record[19..19 + entry.name.len()].copy_from_slice(entry.name);
                    used += length;
                    cookie = entry.next_cookie;
                    true
                })?;
            if too_small {
                return Err(Errno::EINVAL);
            }
            kernel.procs.set_offset(file, cookie);
            Ok(used)
        })
    }

    pub(crate) fn mount(
        &self,
        kernel: &Kernel,
        fstype: &[u8],
        target: &[u8],
        flags: u32,
        source: &[u8],
    ) -> KResult<()> {
        check_path(target)?;
        if source.len() >= PATH_MAX || fstype.len() >= PATH_MAX {
            return Err(Errno::ENAMETOOLONG);
        }
        let mut table = self.mounts.write();
        let covers = match table.root() {
            Err(_) => {
                if target.iter().any(|byte| *byte != b'/') {
                    return Err(Errno::ENOENT);
                }
                None
            }
            Ok(_) => {
                let resolved = resolve(&table, &self.alloc, target, true)?;
                if resolved.attr.kind != NodeKind::Dir {
                    return Err(Errno::ENOTDIR);
                }
                if table.is_mount_boundary(resolved.node) {
                    return Err(Errno::EBUSY);
                }
                Some(resolved.node)
            }
        };
        let slot = match table.mounts.iter().position(Option::is_none) {
            Some(slot) => slot,
            None => {
                table.mounts.try_reserve(1).map_err(|_| Errno::ENOMEM)?;
                table.mounts.len()
            }
        };
        let fs = if fstype == DEVFS_NAME.as_bytes() {
            MountFs::Dev(DevFs::mount(kernel, &self.alloc)?)
        } else {
            let fstype = self.fstype(fstype).ok_or(Errno::ENODEV)?;
            let request = MountRequest {
                source,
                flags,
                alloc: &self.alloc,
            };
            MountFs::Driver(fstype.mount(kernel, &request)?)
        };
        let dev = table.next_dev;
        table.next_dev += 1;
        let mut mount = Mount {
            root: 0,
            fs,
            covers,
            dev,
        };
        mount.root = mount.fs().root();
        if slot == table.mounts.len() {
            // Capacity was reserved above, so this cannot allocate.
            table.mounts.push(Some(mount));
        } else {
            table.mounts[slot] = Some(mount);
        }
        Ok(())
    }

    pub(crate) fn unmount(&self, kernel: &Kernel, target: &[u8], flags: u32) -> KResult<()> {
        if flags & !(MNT_FORCE | UMOUNT_NOFOLLOW) != 0 {
            return Err(Errno::EINVAL);
        }
        check_path(target)?;
        let mut table = self.mounts.write();
        let resolved = resolve(&table, &self.alloc, target, flags & UMOUNT_NOFOLLOW == 0)?;
        let index = resolved.node.mount;
        if table.get(index).root != resolved.node.ino {
            return Err(Errno::EINVAL);
        }
        if table.has_children(index) || kernel.procs.any_open_on(index) {
            return Err(Errno::EBUSY);
        }
        // Unmounting goes on even if the final sync fails, as on Linux.
        let _ = table.get(index).fs().sync();
        table.mounts[index] = None;
        Ok(())
    }

    /// Syncs every file system, then the block devices' buffers (like
    /// Linux, `sync` reports no errors).
    pub(crate) fn sync(&self, kernel: &Kernel) -> KResult<()> {
        let table = self.mounts.read();
        for mount in table.mounts.iter().flatten() {
            let _ = mount.fs().sync();
        }
        if let Ok(dev) = kernel.dev() {
            let _ = dev.sync_all();
        }
        Ok(())
    }
}

/// Whether a descriptor opened with `flags` may be read.
fn readable(flags: u32) -> bool {
    matches!(flags & O_ACCMODE, O_RDONLY | O_RDWR)
}

/// Whether a descriptor opened with `flags` may be written.
fn writable(flags: u32) -> bool {
    matches!(flags & O_ACCMODE, O_WRONLY | O_RDWR)
}
