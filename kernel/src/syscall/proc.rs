//! Process contexts: each has a descriptor table; descriptors point at open
//! files, which carry the offset that `dup`'d descriptors share.
//!
//! One short [`KMutex`] guards all of it. It is never held across a call into
//! a file-system driver except [`FileSystem::release`](crate::vfs::FileSystem::release)
//! at the moment the last reference to an open file goes away, so system calls
//! on different descriptors (and on the same one) still interleave inside
//! drivers.
//!
//! An open file is counted: one reference per descriptor, plus one for each
//! system call using it at the moment. A `close` during a `read` on another
//! thread therefore frees nothing until the `read` is done, and the mount the
//! file lives on cannot be unmounted meanwhile (`EBUSY`).

use alloc::sync::Arc;

use rumpkit_hypercall::Hypercalls;

use crate::errno::{Errno, KResult};
use crate::kmem::{KAlloc, KVec, TryPush};
use crate::sync::KMutex;
use crate::vfs::devfs::BdevId;
use crate::vfs::{Ino, NodeKind};

/// A file descriptor.
pub type Fd = i32;

/// A process id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Pid(pub u32);

/// Descriptors a process may hold at once (`EMFILE` beyond).
pub const OPEN_MAX: usize = 64;

/// What an open file refers to.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FileTarget {
    /// Index of the mount in the mount table.
    pub mount: usize,
    /// The inode on that mount.
    pub ino: Ino,
    /// What the inode is.
    pub kind: NodeKind,
    /// The `open` flags.
    pub flags: u32,
    /// The block device behind a block-special file.
    pub bdev: Option<BdevId>,
}

/// A copy of an open file's state, taken by a system call that holds a
/// reference to it (give it back with [`ProcTable::put`]).
#[derive(Debug, Clone, Copy)]
pub(crate) struct FileRef {
    pub slot: usize,
    pub target: FileTarget,
    pub offset: u64,
}

struct OpenFile {
    refs: usize,
    /// `None` while an `open` is still filling the slot in.
    target: Option<FileTarget>,
    offset: u64,
}

struct Proc {
    pid: Pid,
    fds: KVec<Option<usize>>,
}

struct ProcState {
    procs: KVec<Proc>,
    files: KVec<Option<OpenFile>>,
    next_pid: u32,
}

/// Processes and open files of one kernel.
pub struct ProcTable {
    state: KMutex<ProcState>,
    alloc: KAlloc,
}

/// An open file whose last reference went away: the caller must call the
/// driver's `release` for it.
pub(crate) type Released = Option<(usize, Ino)>;

impl ProcState {
    fn proc_mut(&mut self, pid: Pid) -> KResult<&mut Proc> {
        self.procs
            .iter_mut()
            .find(|p| p.pid == pid)
            .ok_or(Errno::ESRCH)
    }

    /// Drops one reference to `slot`; frees it on the last.
    fn unref(&mut self, slot: usize) -> Released {
        let file = self.files[slot]
            .as_mut()
            .expect("referenced file slot is live");
        assert!(file.refs > 0, "open file reference count underflow");
        file.refs -= 1;
        if file.refs > 0 {
            return None;
        }
        let target = file.target;
        self.files[slot] = None;
        target.map(|t| (t.mount, t.ino))
    }

    fn ready_slot(&self, pid: Pid, fd: Fd) -> KResult<usize> {
        let proc = self
            .procs
            .iter()
            .find(|p| p.pid == pid)
            .ok_or(Errno::ESRCH)?;
        let slot = usize::try_from(fd)
            .ok()
            .and_then(|i| proc.fds.get(i).copied().flatten())
            .ok_or(Errno::EBADF)?;
        match &self.files[slot] {
            Some(OpenFile {
                target: Some(_), ..
            }) => Ok(slot),
            _ => Err(Errno::EBADF),
        }
    }
}

impl ProcTable {
    pub(crate) fn new(platform: &Arc<dyn Hypercalls>, alloc: KAlloc) -> ProcTable {
        ProcTable {
            state: KMutex::new(
                platform,
                "proc.table",
                ProcState {
                    procs: alloc.with_site("proc.table").vec(),
                    files: alloc.with_site("vfs.file").vec(),
                    next_pid: 1,
                },
            ),
            alloc,
        }
    }

    /// A new process with an empty descriptor table.
    pub(crate) fn create(&self) -> KResult<Pid> {
        let mut fds = self.alloc.with_site("vfs.fdtable").vec();
        fds.try_reserve_exact(OPEN_MAX).map_err(|_| Errno::ENOMEM)?;
        let mut state = self.state.lock();
        state.procs.try_reserve(1).map_err(|_| Errno::ENOMEM)?;
        let pid = Pid(state.next_pid);
        state.next_pid = state.next_pid.checked_add(1).ok_or(Errno::EAGAIN)?;
        state.procs.push(Proc { pid, fds });
        Ok(pid)
    }

    /// Whether `pid` exists (`ESRCH` if not).
    pub(crate) fn check(&self, pid: Pid) -> KResult<()> {
        let mut state = self.state.lock();
        state.proc_mut(pid).map(|_| ())
    }

    /// Removes a process, closing its descriptors; `release` is called (under
    /// the table lock) for every open file whose last reference went.
    pub(crate) fn destroy(&self, pid: Pid, release: &mut dyn FnMut(usize, Ino)) -> KResult<()> {
        let mut state = self.state.lock();
        let index = state
            .procs
            .iter()
            .position(|p| p.pid == pid)
            .ok_or(Errno::ESRCH)?;
        let proc = state.procs.remove(index);
        for slot in proc.fds.iter().flatten() {
            if let Some((mount, ino)) = state.unref(*slot) {
                release(mount, ino);
            }
        }
        Ok(())
    }

    /// Removes every process (at halt).
    pub(crate) fn destroy_all(&self, release: &mut dyn FnMut(usize, Ino)) {
        loop {
            let pid = {
                let state = self.state.lock();
                match state.procs.first() {
                    Some(proc) => proc.pid,
                    None => return,
                }
            };
            let _ = self.destroy(pid, release);
        }
    }

    /// Takes the lowest free descriptor and an empty open-file slot for an
    /// `open` in progress (`EMFILE`, `ENOMEM`). Finish with
    /// [`ProcTable::install`] or [`ProcTable::abort`].
    pub(crate) fn reserve(&self, pid: Pid) -> KResult<(Fd, usize)> {
        let mut state = self.state.lock();
        let state = &mut *state;
        let proc = state.proc_mut(pid)?;
        let fd = match proc.fds.iter().position(Option::is_none) {
            Some(fd) => fd,
            None if proc.fds.len() < OPEN_MAX => proc.fds.len(),
            None => return Err(Errno::EMFILE),
        };
        let slot = match state.files.iter().position(Option::is_none) {
            Some(slot) => slot,
            None => {
                state.files.try_push(None)?;
                state.files.len() - 1
            }
        };
        // Two references: the descriptor, and the `open` filling it in.
        state.files[slot] = Some(OpenFile {
            refs: 2,
            target: None,
            offset: 0,
        });
        let proc = state.proc_mut(pid).expect("process checked above");
        if fd == proc.fds.len() {
            // Capacity for OPEN_MAX was reserved at creation.
            proc.fds.try_push(Some(slot))?;
        } else {
            proc.fds[fd] = Some(slot);
        }
        Ok((fd as Fd, slot))
    }

    /// Completes a reserved `open`. If the process closed the descriptor (or
    /// ended) meanwhile, the file is released at once and the result says so.
    pub(crate) fn install(&self, slot: usize, target: FileTarget) -> Released {
        let mut state = self.state.lock();
        let file = state.files[slot].as_mut().expect("reserved slot is live");
        file.target = Some(target);
        state.unref(slot)
    }

    /// Gives up a reserved `open`.
    pub(crate) fn abort(&self, pid: Pid, fd: Fd, slot: usize) {
        let mut state = self.state.lock();
        if let Ok(proc) = state.proc_mut(pid) {
            if let Some(entry) = proc.fds.get_mut(fd as usize) {
                if *entry == Some(slot) {
                    *entry = None;
                    let released = state.unref(slot);
                    debug_assert!(released.is_none());
                }
            }
        }
        let released = state.unref(slot);
        debug_assert!(released.is_none(), "an unfilled slot releases nothing");
    }

    /// Takes a reference to the open file behind `fd` for one system call.
    pub(crate) fn get(&self, pid: Pid, fd: Fd) -> KResult<FileRef> {
        let mut state = self.state.lock();
        let slot = state.ready_slot(pid, fd)?;
        let file = state.files[slot].as_mut().expect("ready slot is live");
        file.refs += 1;
        Ok(FileRef {
            slot,
            target: file.target.expect("ready slot has a target"),
            offset: file.offset,
        })
    }

    /// Gives back a reference from [`ProcTable::get`].
    pub(crate) fn put(&self, file: &FileRef) -> Released {
        self.state.lock().unref(file.slot)
    }

    /// Sets the shared offset of an open file.
    pub(crate) fn set_offset(&self, file: &FileRef, offset: u64) {
        let mut state = self.state.lock();
        if let Some(open) = state.files[file.slot].as_mut() {
            open.offset = offset;
        }
    }

    /// Closes a descriptor.
    pub(crate) fn close(&self, pid: Pid, fd: Fd) -> KResult<Released> {
        let mut state = self.state.lock();
        let slot = state.ready_slot(pid, fd)?;
        let proc = state.proc_mut(pid).expect("process checked above");
        proc.fds[fd as usize] = None;
        Ok(state.unref(slot))
    }

    /// A second descriptor for the open file behind `fd`, the lowest free.
    pub(crate) fn dup(&self, pid: Pid, fd: Fd) -> KResult<Fd> {
        let mut state = self.state.lock();
        let slot = state.ready_slot(pid, fd)?;
        let proc = state.proc_mut(pid).expect("process checked above");
        let new_fd = match proc.fds.iter().position(Option::is_none) {
            Some(new_fd) => {
                proc.fds[new_fd] = Some(slot);
                new_fd
            }
            None if proc.fds.len() < OPEN_MAX => {
                proc.fds.try_push(Some(slot))?;
                proc.fds.len() - 1
            }
            None => return Err(Errno::EMFILE),
        };
        state.files[slot].as_mut().expect("ready slot is live").refs += 1;
        Ok(new_fd as Fd)
    }

    /// Whether any open file (or `open` in progress) lives on `mount`.
    pub(crate) fn any_open_on(&self, mount: usize) -> bool {
        let state = self.state.lock();
        state.files.iter().flatten().any(|f| match f.target {
            Some(target) => target.mount == mount,
            // An unfilled slot may be about to land anywhere.
            None => true,
        })
    }
}
