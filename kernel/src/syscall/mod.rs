//! System calls: process contexts and the typed system-call API.
//!
//! As in rump kernels, whoever makes a system call (a test's client thread, a
//! fuzzer, the scenario executor) enters the kernel and runs it on its own
//! thread, in a process context of its own: [`Kernel::proc_create`] makes one,
//! [`Kernel::sys`] enters it, and [`Sys`] has one method per system call with
//! Rust types (`&[u8]` paths, `&mut [u8]` buffers, [`KResult`] answers).
//!
//! Every [`Sys`] method first checks that its faction was booted (`ENOSYS`
//! otherwise) and that the process exists (`ESRCH`), and is framed by a
//! [`KernelEvent::SyscallEnter`] / [`KernelEvent::SyscallExit`] pair for the
//! platform's trace.
//!
//! * [`abi`] — Linux x86-64 flag values, constants and syscall numbers.
//! * [`proc`] — process contexts, descriptor tables and open files.
//! * `user` — the simulated user address space; `raw` — the numbered
//!   dispatcher over it (both built on this typed API).

pub mod abi;
pub mod proc;
pub mod raw;
pub mod user;

use rumpkit_hypercall::KernelEvent;

use crate::errno::KResult;
use crate::kernel::Kernel;
use crate::vfs::VfsFaction;

pub use proc::{Fd, Pid, OPEN_MAX};

/// What `stat`, `lstat` and `fstat` report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stat {
    /// The device (one number per mount).
    pub dev: u64,
    /// The inode number.
    pub ino: u64,
    /// Type and permission bits (`S_IF*` | `0o7777`).
    pub mode: u32,
    /// Hard links.
    pub nlink: u32,
    /// Owner (always 0: rumpkit has no credentials yet).
    pub uid: u32,
    /// Group (always 0).
    pub gid: u32,
    /// The device number of a device-special file.
    pub rdev: u64,
    /// Size in bytes.
    pub size: i64,
    /// Preferred I/O size.
    pub blksize: i64,
    /// 512-byte blocks allocated.
    pub blocks: i64,
    /// Last access, nanoseconds since the epoch.
    pub atime_ns: i64,
    /// Last modification.
    pub mtime_ns: i64,
    /// Last status change.
    pub ctime_ns: i64,
}

impl Kernel {
    /// A new process: empty descriptor table (at most [`OPEN_MAX`]
    /// descriptors), working directory `/`.
    pub fn proc_create(&self) -> KResult<Pid> {
        self.procs.create()
    }

    /// Ends a process, closing its descriptors. `ESRCH` if there is none.
    pub fn proc_destroy(&self, pid: Pid) -> KResult<()> {
        match self.vfs.as_ref() {
            Some(vfs) => vfs.proc_destroy(self, pid),
            None => self.procs.destroy(pid, &mut |_, _| {}),
        }
    }

    /// Enters process `pid` to make system calls.
    pub fn sys(&self, pid: Pid) -> Sys<'_> {
        Sys { kernel: self, pid }
    }
}

impl VfsFaction {
    fn proc_destroy(&self, kernel: &Kernel, pid: Pid) -> KResult<()> {
        self.with_mounts(|table| {
            kernel
                .procs
                .destroy(pid, &mut |mount, ino| table.get(mount).fs().release(ino))
        })
    }
}

/// A value a system call returns, as the number its exit event records.
trait SyscallValue {
    fn trace_value(&self) -> i64;
}

impl SyscallValue for () {
    fn trace_value(&self) -> i64 {
        0
    }
}

impl SyscallValue for usize {
    fn trace_value(&self) -> i64 {
        *self as i64
    }
}

impl SyscallValue for u64 {
    fn trace_value(&self) -> i64 {
        *self as i64
    }
}

impl SyscallValue for i32 {
    fn trace_value(&self) -> i64 {
        i64::from(*self)
    }
}

impl SyscallValue for Stat {
    fn trace_value(&self) -> i64 {
        0
    }
}

/// A process context inside the kernel: the typed system calls.
pub struct Sys<'k> {
    kernel: &'k Kernel,
    pid: Pid,
}

impl<'k> Sys<'k> {
    /// The kernel.
    pub fn kernel(&self) -> &'k Kernel {
        self.kernel
    }

    /// The process.
    pub fn pid(&self) -> Pid {
        self.pid
    }

    /// Runs one vfs system call: trace events, faction and process checks.
    fn vfs_call<T: SyscallValue>(
        &self,
        name: &'static str,
        body: impl FnOnce(&'k VfsFaction) -> KResult<T>,
    ) -> KResult<T> {
        let platform = self.kernel.platform();
        platform.kernel_event(KernelEvent::SyscallEnter(name));
        let result = self
            .kernel
            .vfs()
            .and_then(|vfs| self.kernel.procs.check(self.pid).map(|()| vfs))
            .and_then(body);
        let value = match &result {
            Ok(value) => value.trace_value(),
            Err(errno) => -i64::from(errno.raw()),
        };
        platform.kernel_event(KernelEvent::SyscallExit(name, value));
        result
    }

    /// Opens (and with `O_CREAT` maybe creates) a file; the lowest free
    /// descriptor.
    pub fn open(&self, path: &[u8], flags: u32, mode: u32) -> KResult<Fd> {
        self.vfs_call("open", |v| v.open(self.kernel, self.pid, path, flags, mode))
    }

    /// Closes a descriptor.
    pub fn close(&self, fd: Fd) -> KResult<()> {
        self.vfs_call("close", |v| v.close(self.kernel, self.pid, fd))
    }

    /// Reads at the file offset, advancing it.
    pub fn read(&self, fd: Fd, buf: &mut [u8]) -> KResult<usize> {
        self.vfs_call("read", |v| v.read(self.kernel, self.pid, fd, buf, None))
    }

    /// Writes at the file offset (the end with `O_APPEND`), advancing it.
    pub fn write(&self, fd: Fd, buf: &[u8]) -> KResult<usize> {
        self.vfs_call("write", |v| v.write(self.kernel, self.pid, fd, buf, None))
    }

    /// Reads at `offset` without moving the file offset.
    pub fn pread(&self, fd: Fd, buf: &mut [u8], offset: i64) -> KResult<usize> {
        self.vfs_call("pread64", |v| {
            v.read(self.kernel, self.pid, fd, buf, Some(offset))
        })
    }

    /// Writes at `offset` without moving the file offset (at the end for
    /// `O_APPEND`, as Linux does).
    pub fn pwrite(&self, fd: Fd, buf: &[u8], offset: i64) -> KResult<usize> {
        self.vfs_call("pwrite64", |v| {
            v.write(self.kernel, self.pid, fd, buf, Some(offset))
        })
    }

    /// Moves the file offset.
    pub fn lseek(&self, fd: Fd, offset: i64, whence: u32) -> KResult<u64> {
        self.vfs_call("lseek", |v| {
            v.lseek(self.kernel, self.pid, fd, offset, whence)
        })
    }

    /// Makes a file's data durable.
    pub fn fsync(&self, fd: Fd) -> KResult<()> {
        self.vfs_call("fsync", |v| v.fsync(self.kernel, self.pid, fd))
    }

    /// Sets the size of an open regular file.
    pub fn ftruncate(&self, fd: Fd, length: i64) -> KResult<()> {
        self.vfs_call("ftruncate", |v| {
            v.ftruncate(self.kernel, self.pid, fd, length)
        })
    }

    /// Sets the size of a regular file by path.
    pub fn truncate(&self, path: &[u8], length: i64) -> KResult<()> {
        self.vfs_call("truncate", |v| v.truncate(path, length))
    }

    /// Attributes, following a final symlink.
    pub fn stat(&self, path: &[u8]) -> KResult<Stat> {
        self.vfs_call("stat", |v| v.stat(path, true))
    }

    /// Attributes, not following a final symlink.
    pub fn lstat(&self, path: &[u8]) -> KResult<Stat> {
        self.vfs_call("lstat", |v| v.stat(path, false))
    }

    /// Attributes of an open file.
    pub fn fstat(&self, fd: Fd) -> KResult<Stat> {
        self.vfs_call("fstat", |v| v.fstat(self.kernel, self.pid, fd))
    }

    /// Creates a directory.
    pub fn mkdir(&self, path: &[u8], mode: u32) -> KResult<()> {
        self.vfs_call("mkdir", |v| v.mkdir(path, mode))
    }

    /// Removes an empty directory.
    pub fn rmdir(&self, path: &[u8]) -> KResult<()> {
        self.vfs_call("rmdir", |v| v.rmdir(path))
    }

    /// Removes a name of a non-directory.
    pub fn unlink(&self, path: &[u8]) -> KResult<()> {
        self.vfs_call("unlink", |v| v.unlink(path))
    }

    /// Renames, replacing `to` by POSIX rules.
    pub fn rename(&self, from: &[u8], to: &[u8]) -> KResult<()> {
        self.vfs_call("rename", |v| v.rename(from, to))
    }

    /// Makes `new` another name of `existing` (not followed if a symlink).
    pub fn link(&self, existing: &[u8], new: &[u8]) -> KResult<()> {
        self.vfs_call("link", |v| v.link(existing, new))
    }

    /// Creates a symlink at `linkpath` holding `target`.
    pub fn symlink(&self, target: &[u8], linkpath: &[u8]) -> KResult<()> {
        self.vfs_call("symlink", |v| v.symlink(target, linkpath))
    }

    /// Copies a symlink's target (truncated to `buf`, no NUL added).
    pub fn readlink(&self, path: &[u8], buf: &mut [u8]) -> KResult<usize> {
        self.vfs_call("readlink", |v| v.readlink(path, buf))
    }

    /// Fills `buf` with `linux_dirent64` records; 0 at the end, `EINVAL` if
    /// `buf` cannot hold the next one.
    pub fn getdents(&self, fd: Fd, buf: &mut [u8]) -> KResult<usize> {
        self.vfs_call("getdents64", |v| v.getdents(self.kernel, self.pid, fd, buf))
    }

    /// Changes permission bits (following a final symlink).
    pub fn chmod(&self, path: &[u8], mode: u32) -> KResult<()> {
        self.vfs_call("chmod", |v| v.chmod(path, mode))
    }

    /// A second descriptor for the same open file (shared offset).
    pub fn dup(&self, fd: Fd) -> KResult<Fd> {
        self.vfs_call("dup", |v| v.dup(self.kernel, self.pid, fd))
    }

    /// Mounts a file system of type `fstype` on `target`. The first mount
    /// must be on `/`. `ENODEV` for an unknown type.
    pub fn mount(&self, fstype: &[u8], target: &[u8], flags: u32, source: &[u8]) -> KResult<()> {
        self.vfs_call("mount", |v| {
            v.mount(self.kernel, fstype, target, flags, source)
        })
    }

    /// Unmounts the file system mounted on `target`. `EBUSY` while files are
    /// open in it or something is mounted below it.
    pub fn unmount(&self, target: &[u8], flags: u32) -> KResult<()> {
        self.vfs_call("umount2", |v| v.unmount(self.kernel, target, flags))
    }

    /// Makes every mounted file system durable.
    pub fn sync(&self) -> KResult<()> {
        self.vfs_call("sync", |v| v.sync(self.kernel))
    }
}
