//! The numbered system-call dispatcher: six raw `u64` arguments in, one `i64`
//! out, pointers into a simulated user address space ([`UserSpace`]).
//!
//! This is the door fuzzers and scenario scripts knock on, so it speaks the
//! Linux x86-64 ABI: the system-call numbers of [`abi::nr`], the argument
//! order of the C prototypes, `int` arguments taken from the low 32 bits of
//! their register (as Linux does), a result that is a value `>= 0` or a
//! negated errno, `struct stat` copied out in its 144-byte x86-64 layout and
//! `getdents64` records copied out as the kernel makes them.
//!
//! Every argument is distrusted. A pointer is only ever used through
//! [`UserSpace::copy_in`], [`UserSpace::copy_out`] and
//! [`UserSpace::copy_in_str`], which answer `EFAULT`; an unknown number
//! answers `ENOSYS`; flags the typed call does not know answer `EINVAL`; and
//! a call whose faction was not booted answers `ENOSYS` before any argument is
//! looked at. Nothing here panics on any input.
//!
//! What the kernel copies in or out lives in kernel memory ([`KVec`] through
//! [`KAlloc`], site `"syscall.raw"`), so a refused allocation is `ENOMEM`. A
//! single `read`, `write`, `pread64`, `pwrite64` or `getdents64` moves at most
//! [`RW_MAX`] bytes (a short count beyond, as Linux does at `MAX_RW_COUNT`).
//!
//! # Faults, and in which order errors come
//!
//! As on Linux, a descriptor is checked before the buffer: `read(-1, NULL,
//! 1)` is `EBADF`, not `EFAULT`. A range that leaves the user half of the
//! address space (or wraps around) is `EFAULT` outright, like Linux's
//! `access_ok`. Within it, `read` and `write` move as many bytes as the
//! mapped prefix of the buffer holds and answer `EFAULT` only when not one
//! byte is mapped, which is what Linux does when a copy faults part way
//! (fewer bytes, no error). `getdents64` needs its whole buffer (clamped to
//! [`RW_MAX`]) to be writable, a simplification of Linux, which fills what it
//! can.
//!
//! [`abi::nr`]: crate::syscall::abi::nr

use crate::errno::{Errno, KResult};
use crate::kernel::{Faction, Kernel};
use crate::kmem::{try_resize_zeroed, KAlloc, KVec};
use crate::syscall::abi::{nr, PATH_MAX};
use crate::syscall::user::{UserSpace, USER_END};
use crate::syscall::{Pid, Stat, Sys};

/// The most bytes one `read`, `write`, `pread64`, `pwrite64` or `getdents64`
/// moves.
pub const RW_MAX: usize = 1 << 20;

/// The size of Linux x86-64's `struct stat`.
pub const STAT_SIZE: usize = 144;

/// The most bytes of `mount`'s `data` argument looked at (Linux copies one
/// page).
pub const MOUNT_DATA_MAX: usize = 4096;

/// The smallest `getdents64` record: 19 header bytes, a one-byte name and its
/// NUL, padded to 8.
const DIRENT_MIN: usize = 24;

/// What an argument of a system call is, for tools that make up arguments
/// (fuzzers) or print them (traces, scenario scripts).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ArgKind {
    /// A file descriptor (`int`).
    Fd,
    /// A NUL-terminated path the kernel reads.
    PathIn,
    /// A NUL-terminated string the kernel reads that may be NULL (mount's
    /// source and data, mount's file-system type).
    StrIn,
    /// A buffer the kernel writes, whose length is argument `len_arg`.
    BufOut {
        /// The index of the length argument.
        len_arg: usize,
    },
    /// A buffer the kernel reads, whose length is argument `len_arg`.
    BufIn {
        /// The index of the length argument.
        len_arg: usize,
    },
    /// A byte count (`size_t`, or `int` for `readlink`).
    Len,
    /// An integer with no special meaning.
    Int,
    /// Flag bits (`open`, `mount`, `umount2`).
    Flags,
    /// Permission bits (`mode_t`).
    Mode,
    /// A file offset or length (`off_t`).
    Offset,
    /// `lseek`'s whence.
    Whence,
    /// A `struct stat` the kernel writes ([`STAT_SIZE`] bytes).
    StatOut,
}

/// One system call of the raw dispatcher.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyscallInfo {
    /// Its Linux name, such as `"pread64"`.
    pub name: &'static str,
    /// Its Linux x86-64 number.
    pub number: u64,
    /// Its arguments, in order.
    pub args: &'static [ArgKind],
    /// The faction that serves it (`ENOSYS` when that faction is absent).
    pub faction: Faction,
}

macro_rules! syscalls {
    ($($name:literal = $number:expr, [$($arg:expr),* $(,)?];)*) => {
        /// Every system call the raw dispatcher knows, in number order.
        pub static SYSCALLS: &[SyscallInfo] = &[
            $(SyscallInfo {
                name: $name,
                number: $number,
                args: &[$($arg),*],
                faction: Faction::Vfs,
            },)*
        ];
    };
}

use ArgKind::*;

syscalls! {
    "read" = nr::READ, [Fd, BufOut { len_arg: 2 }, Len];
    "write" = nr::WRITE, [Fd, BufIn { len_arg: 2 }, Len];
    "open" = nr::OPEN, [PathIn, Flags, Mode];
    "close" = nr::CLOSE, [Fd];
    "stat" = nr::STAT, [PathIn, StatOut];
    "fstat" = nr::FSTAT, [Fd, StatOut];
    "lstat" = nr::LSTAT, [PathIn, StatOut];
    "lseek" = nr::LSEEK, [Fd, Offset, Whence];
    "pread64" = nr::PREAD64, [Fd, BufOut { len_arg: 2 }, Len, Offset];
    "pwrite64" = nr::PWRITE64, [Fd, BufIn { len_arg: 2 }, Len, Offset];
    "dup" = nr::DUP, [Fd];
    "fsync" = nr::FSYNC, [Fd];
    "truncate" = nr::TRUNCATE, [PathIn, Offset];
    "ftruncate" = nr::FTRUNCATE, [Fd, Offset];
    "rename" = nr::RENAME, [PathIn, PathIn];
    "mkdir" = nr::MKDIR, [PathIn, Mode];
    "rmdir" = nr::RMDIR, [PathIn];
    "link" = nr::LINK, [PathIn, PathIn];
    "unlink" = nr::UNLINK, [PathIn];
    "symlink" = nr::SYMLINK, [PathIn, PathIn];
    "readlink" = nr::READLINK, [PathIn, BufOut { len_arg: 2 }, Len];
    "chmod" = nr::CHMOD, [PathIn, Mode];
    "sync" = nr::SYNC, [];
    "mount" = nr::MOUNT, [StrIn, PathIn, StrIn, Flags, StrIn];
    "umount2" = nr::UMOUNT2, [PathIn, Flags];
    "getdents64" = nr::GETDENTS64, [Fd, BufOut { len_arg: 2 }, Len];
}

/// The table entry for `number`, if the dispatcher knows it.
pub fn syscall_info(number: u64) -> Option<&'static SyscallInfo> {
    SYSCALLS.iter().find(|info| info.number == number)
}

/// The table entry for a Linux name such as `"getdents64"`.
pub fn syscall_by_name(name: &str) -> Option<&'static SyscallInfo> {
    SYSCALLS.iter().find(|info| info.name == name)
}

/// `st` in Linux x86-64's `struct stat` layout (144 bytes, little-endian).
pub fn stat_to_linux(st: &Stat) -> [u8; STAT_SIZE] {
    let mut out = [0u8; STAT_SIZE];
    let mut put = |offset: usize, bytes: &[u8]| {
        out[offset..offset + bytes.len()].copy_from_slice(bytes);
    };
    let split = |ns: i64| (ns.div_euclid(1_000_000_000), ns.rem_euclid(1_000_000_000));
    put(0, &st.dev.to_le_bytes());
    put(8, &st.ino.to_le_bytes());
    put(16, &u64::from(st.nlink).to_le_bytes());
    put(24, &st.mode.to_le_bytes());
    put(28, &st.uid.to_le_bytes());
    put(32, &st.gid.to_le_bytes());
    put(40, &st.rdev.to_le_bytes());
    put(48, &st.size.to_le_bytes());
    put(56, &st.blksize.to_le_bytes());
    put(64, &st.blocks.to_le_bytes());
    for (offset, ns) in [(72, st.atime_ns), (88, st.mtime_ns), (104, st.ctime_ns)] {
        let (seconds, nanoseconds) = split(ns);
        put(offset, &seconds.to_le_bytes());
        put(offset + 8, &nanoseconds.to_le_bytes());
    }
    out
}

/// The inverse of [`stat_to_linux`] (for harnesses reading what the
/// dispatcher copied out). `nlink` saturates at `u32::MAX`.
pub fn stat_from_linux(bytes: &[u8; STAT_SIZE]) -> Stat {
    let u64_at = |offset: usize| {
        let mut word = [0u8; 8];
        word.copy_from_slice(&bytes[offset..offset + 8]);
        u64::from_le_bytes(word)
    };
    let u32_at = |offset: usize| {
        let mut word = [0u8; 4];
        word.copy_from_slice(&bytes[offset..offset + 4]);
        u32::from_le_bytes(word)
    };
    let time_at = |offset: usize| {
        (u64_at(offset) as i64)
            .wrapping_mul(1_000_000_000)
            .wrapping_add(u64_at(offset + 8) as i64)
    };
    Stat {
        dev: u64_at(0),
        ino: u64_at(8),
        nlink: u32::try_from(u64_at(16)).unwrap_or(u32::MAX),
        mode: u32_at(24),
        uid: u32_at(28),
        gid: u32_at(32),
        rdev: u64_at(40),
        size: u64_at(48) as i64,
        blksize: u64_at(56) as i64,
        blocks: u64_at(64) as i64,
        atime_ns: time_at(72),
        mtime_ns: time_at(88),
        ctime_ns: time_at(104),
    }
}

/// An `int` argument: the low 32 bits of its register.
fn int(arg: u64) -> i32 {
    arg as u32 as i32
}

/// An `unsigned int` argument (flags, modes, whence).
fn uint(arg: u64) -> u32 {
    arg as u32
}

/// Whether `[addr, addr + len)` lies in the user half without wrapping
/// (Linux's `access_ok`).
fn access_ok(addr: u64, len: u64) -> bool {
    addr.checked_add(len).is_some_and(|end| end <= USER_END)
}

/// A result as the raw ABI returns it.
fn to_raw(result: KResult<i64>) -> i64 {
    match result {
        Ok(value) => value,
        Err(errno) => -i64::from(errno.raw()),
    }
}

/// A count as a result value.
fn count(value: usize) -> i64 {
    value as i64
}

/// Everything one raw call needs.
struct Call<'a, 'k> {
    sys: Sys<'k>,
    user: &'a mut UserSpace,
    alloc: KAlloc,
}

impl Call<'_, '_> {
    /// A zero-filled kernel buffer of `len` bytes, or `ENOMEM`.
    fn buffer(&self, len: usize) -> KResult<KVec<u8>> {
        let mut buf = self.alloc.vec();
        try_resize_zeroed(&mut buf, len)?;
        Ok(buf)
    }

    /// A path argument, copied into kernel memory.
    fn path(&self, addr: u64) -> KResult<KVec<u8>> {
        self.user.copy_in_str(addr, PATH_MAX, &self.alloc)
    }

    /// A string argument that may be NULL (NULL reads as empty).
    fn optional_str(&self, addr: u64, max: usize) -> KResult<KVec<u8>> {
        if addr == 0 {
            return Ok(self.alloc.vec());
        }
        self.user.copy_in_str(addr, max, &self.alloc)
    }

    /// `read` and `pread64`: `op` reads into a kernel buffer; the bytes read
    /// are copied out. Before answering `EFAULT`, `op` is made with an empty
    /// buffer (which changes nothing), so that a bad descriptor or offset is
    /// reported before a bad buffer, as on Linux.
    fn read_like(
        &mut self,
        addr: u64,
        len: u64,
        op: impl Fn(&Sys<'_>, &mut [u8]) -> KResult<usize>,
    ) -> KResult<i64> {
        if !access_ok(addr, len) {
            op(&self.sys, &mut [])?;
            return Err(Errno::EFAULT);
        }
        let wanted = usize::try_from(len).unwrap_or(RW_MAX).min(RW_MAX);
        let usable = self.user.mapped_prefix(addr, wanted, true);
        if usable == 0 && wanted > 0 {
            op(&self.sys, &mut [])?;
            return Err(Errno::EFAULT);
        }
        let mut buf = self.buffer(usable)?;
        let done = op(&self.sys, &mut buf)?;
        self.user.copy_out(addr, &buf[..done])?;
        Ok(count(done))
    }

    /// `write` and `pwrite64`: the bytes are copied in, then `op` writes them.
    fn write_like(
        &mut self,
        addr: u64,
        len: u64,
        op: impl Fn(&Sys<'_>, &[u8]) -> KResult<usize>,
    ) -> KResult<i64> {
        if !access_ok(addr, len) {
            op(&self.sys, &[])?;
            return Err(Errno::EFAULT);
        }
        let wanted = usize::try_from(len).unwrap_or(RW_MAX).min(RW_MAX);
        let usable = self.user.mapped_prefix(addr, wanted, false);
        if usable == 0 && wanted > 0 {
            op(&self.sys, &[])?;
            return Err(Errno::EFAULT);
        }
        let mut buf = self.buffer(usable)?;
        self.user.copy_in(addr, &mut buf)?;
        Ok(count(op(&self.sys, &buf)?))
    }

    /// `stat`, `lstat` and `fstat`: the result is copied out in Linux layout.
    fn stat_out(&mut self, addr: u64, stat: KResult<Stat>) -> KResult<i64> {
        self.user.copy_out(addr, &stat_to_linux(&stat?))?;
        Ok(0)
    }

    fn getdents64(&mut self, fd: i32, addr: u64, len: u32) -> KResult<i64> {
        let wanted = (len as usize).min(RW_MAX);
        if !access_ok(addr, u64::from(len)) || self.user.check_writable(addr, wanted).is_err() {
            // A bad descriptor or a non-directory first, as on Linux; an
            // empty buffer is EINVAL for a good directory.
            match self.sys.getdents(fd, &mut []) {
                Err(Errno::EINVAL) | Ok(_) => {}
                Err(errno) => return Err(errno),
            }
            if wanted < DIRENT_MIN {
                return Err(Errno::EINVAL);
            }
            return Err(Errno::EFAULT);
        }
        let mut buf = self.buffer(wanted)?;
        let done = self.sys.getdents(fd, &mut buf)?;
        self.user.copy_out(addr, &buf[..done])?;
        Ok(count(done))
    }

    fn readlink(&mut self, path: u64, addr: u64, len: u64) -> KResult<i64> {
        let len = int(len);
        if len <= 0 {
            return Err(Errno::EINVAL);
        }
        let path = self.path(path)?;
        let mut buf = self.buffer((len as usize).min(PATH_MAX))?;
        let done = self.sys.readlink(&path, &mut buf)?;
        self.user.copy_out(addr, &buf[..done])?;
        Ok(count(done))
    }

    fn mount(&mut self, args: &[u64; 6]) -> KResult<i64> {
        let [source, target, fstype, flags, data, _] = *args;
        let source = self.optional_str(source, PATH_MAX)?;
        let target = self.path(target)?;
        if fstype == 0 {
            return Err(Errno::EINVAL);
        }
        let fstype = self.optional_str(fstype, PATH_MAX)?;
        let flags = u32::try_from(flags).map_err(|_| Errno::EINVAL)?;
        let data = self.optional_str(data, MOUNT_DATA_MAX)?;
        // The typed call takes one option string, which tmpfs reads as its
        // options ("size=64K") and a disk file system as its device. Linux
        // passes a file system's options in `data` and its device in
        // `source`; a mount with `data` uses `data`.
        let options = if data.is_empty() { &source } else { &data };
        self.sys.mount(&fstype, &target, flags, options)?;
        Ok(0)
    }

    fn dispatch(&mut self, number: u64, args: &[u64; 6]) -> KResult<i64> {
        let [a0, a1, a2, a3, _, _] = *args;
        match number {
            nr::READ => self.read_like(a1, a2, |sys, buf| sys.read(int(a0), buf)),
            nr::WRITE => self.write_like(a1, a2, |sys, buf| sys.write(int(a0), buf)),
            nr::OPEN => {
                let path = self.path(a0)?;
                Ok(i64::from(self.sys.open(&path, uint(a1), uint(a2))?))
            }
            nr::CLOSE => self.sys.close(int(a0)).map(|()| 0),
            nr::STAT => {
                let path = self.path(a0)?;
                let stat = self.sys.stat(&path);
                self.stat_out(a1, stat)
            }
            nr::FSTAT => {
                let stat = self.sys.fstat(int(a0));
                self.stat_out(a1, stat)
            }
            nr::LSTAT => {
                let path = self.path(a0)?;
                let stat = self.sys.lstat(&path);
                self.stat_out(a1, stat)
            }
            nr::LSEEK => {
                let offset = self.sys.lseek(int(a0), a1 as i64, uint(a2))?;
                i64::try_from(offset).map_err(|_| Errno::EOVERFLOW)
            }
            nr::PREAD64 => self.read_like(a1, a2, |sys, buf| sys.pread(int(a0), buf, a3 as i64)),
            nr::PWRITE64 => self.write_like(a1, a2, |sys, buf| sys.pwrite(int(a0), buf, a3 as i64)),
            nr::DUP => Ok(i64::from(self.sys.dup(int(a0))?)),
            nr::FSYNC => self.sys.fsync(int(a0)).map(|()| 0),
            nr::TRUNCATE => {
                let path = self.path(a0)?;
                self.sys.truncate(&path, a1 as i64).map(|()| 0)
            }
            nr::FTRUNCATE => self.sys.ftruncate(int(a0), a1 as i64).map(|()| 0),
            nr::RENAME => {
                let from = self.path(a0)?;
                let to = self.path(a1)?;
                self.sys.rename(&from, &to).map(|()| 0)
            }
            nr::MKDIR => {
                let path = self.path(a0)?;
                self.sys.mkdir(&path, uint(a1)).map(|()| 0)
            }
            nr::RMDIR => {
                let path = self.path(a0)?;
                self.sys.rmdir(&path).map(|()| 0)
            }
            nr::LINK => {
                let existing = self.path(a0)?;
                let new = self.path(a1)?;
                self.sys.link(&existing, &new).map(|()| 0)
            }
            nr::UNLINK => {
                let path = self.path(a0)?;
                self.sys.unlink(&path).map(|()| 0)
            }
            nr::SYMLINK => {
                let target = self.path(a0)?;
                let linkpath = self.path(a1)?;
                self.sys.symlink(&target, &linkpath).map(|()| 0)
            }
            nr::READLINK => self.readlink(a0, a1, a2),
            nr::CHMOD => {
                let path = self.path(a0)?;
                self.sys.chmod(&path, uint(a1)).map(|()| 0)
            }
            nr::SYNC => self.sys.sync().map(|()| 0),
            nr::MOUNT => self.mount(args),
            nr::UMOUNT2 => {
                let target = self.path(a0)?;
                self.sys.unmount(&target, uint(a1)).map(|()| 0)
            }
            nr::GETDENTS64 => self.getdents64(int(a0), a1, uint(a2)),
            _ => Err(Errno::ENOSYS),
        }
    }
}

impl Kernel {
    /// Runs system call `number` for process `pid` with raw arguments whose
    /// pointers point into `user`. Returns a value `>= 0`, or a negated errno
    /// (`ENOSYS` for an unknown number or an absent faction). See the module
    /// documentation for the conventions.
    pub fn syscall_raw(&self, pid: Pid, user: &mut UserSpace, number: u64, args: [u64; 6]) -> i64 {
        let Some(info) = syscall_info(number) else {
            return to_raw(Err(Errno::ENOSYS));
        };
        if !self.has_faction(info.faction) {
            return to_raw(Err(Errno::ENOSYS));
        }
        let mut call = Call {
            sys: self.sys(pid),
            user,
            alloc: self.alloc("syscall.raw"),
        };
        to_raw(call.dispatch(number, &args))
    }
}
