//! The `syscalls` target: typed system-call sequences over a small set of
//! colliding names, on one to three client threads of one process, under a
//! fault plan and scheduler drawn from the input, on a fresh simulation and
//! kernel per input.
//!
//! Checks: the run does not fail (no panic, deadlock, livelock), nothing
//! leaks (the platform's books and the kernel's at halt), every error is one
//! the call may give (never `ENOSYS`, `ESRCH` or `EFAULT` from the typed
//! API; `ENOMEM` only under allocation faults; `EIO` never), and for
//! single-threaded fault-free inputs every result equals the reference
//! model's ([`super::model`]), inode numbers compared as a relation.

use rumpkit_fault::FaultPlan;
use rumpkit_kernel::syscall::abi::*;
use rumpkit_kernel::{Errno, Kernel, Sys};

use super::model::{Answer, Checker, Val};
use super::{Input, Schedule, MAX_OPS};

/// The names every path is made of; short paths so that they collide.
pub const PATHS: &[&str] = &["/a", "/b", "/c", "/a/a", "/a/b", "/b/a", "/a/a/b", "/c/b"];

/// Where `unmount` aims: the paths, and the root.
const UNMOUNT_PATHS: &[&str] = &[
    "/a", "/b", "/c", "/a/a", "/a/b", "/b/a", "/a/a/b", "/c/b", "/",
];

/// The `open` flag sets, and how scripts spell them.
pub const OPEN_FLAGS: &[(u32, &str)] = &[
    (O_RDONLY, "O_RDONLY"),
    (O_WRONLY, "O_WRONLY"),
    (O_RDWR, "O_RDWR"),
    (O_CREAT | O_WRONLY, "O_CREAT|O_WRONLY"),
    (O_CREAT | O_RDWR, "O_CREAT|O_RDWR"),
    (O_CREAT | O_EXCL | O_RDWR, "O_CREAT|O_EXCL|O_RDWR"),
    (O_TRUNC | O_RDWR, "O_TRUNC|O_RDWR"),
    (O_APPEND | O_WRONLY, "O_APPEND|O_WRONLY"),
    (O_APPEND | O_CREAT | O_RDWR, "O_APPEND|O_CREAT|O_RDWR"),
    (O_DIRECTORY | O_RDONLY, "O_DIRECTORY|O_RDONLY"),
];

/// `lseek`'s whence values; 7 is invalid.
pub const WHENCES: &[(u32, &str)] = &[
    (SEEK_SET, "SEEK_SET"),
    (SEEK_CUR, "SEEK_CUR"),
    (SEEK_END, "SEEK_END"),
    (7, "7"),
];

/// File-system types `mount` tries, and tmpfs options.
const FSTYPES: &[&str] = &["tmpfs", "devfs", "nofs"];
const MOUNT_OPTIONS: &[&str] = &["", "size=4K", "size=64K"];

/// One typed system call, as the `syscalls` target decodes it and the
/// reference model ([`super::model`]) answers it. Paths are among [`PATHS`]
/// (the target's `unmount` also aims at `/`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    Open {
        path: &'static [u8],
        flags: u32,
        mode: u32,
    },
    Close {
        fd: i32,
    },
    Read {
        fd: i32,
        len: usize,
    },
    Write {
        fd: i32,
        data: Vec<u8>,
    },
    Pread {
        fd: i32,
        len: usize,
        offset: i64,
    },
    Pwrite {
        fd: i32,
        data: Vec<u8>,
        offset: i64,
    },
    Lseek {
        fd: i32,
        offset: i64,
        whence: u32,
    },
    Fsync {
        fd: i32,
    },
    Ftruncate {
        fd: i32,
        len: i64,
    },
    Truncate {
        path: &'static [u8],
        len: i64,
    },
    Stat {
        path: &'static [u8],
    },
    Lstat {
        path: &'static [u8],
    },
    Fstat {
        fd: i32,
    },
    Mkdir {
        path: &'static [u8],
    },
    Rmdir {
        path: &'static [u8],
    },
    Unlink {
        path: &'static [u8],
    },
    Rename {
        from: &'static [u8],
        to: &'static [u8],
    },
    Link {
        existing: &'static [u8],
        new: &'static [u8],
    },
    Symlink {
        target: &'static [u8],
        path: &'static [u8],
    },
    Readlink {
        path: &'static [u8],
        len: usize,
    },
    Getdents {
        fd: i32,
    },
    Chmod {
        path: &'static [u8],
        mode: u32,
    },
    Dup {
        fd: i32,
    },
    Mount {
        fstype: &'static str,
        path: &'static [u8],
        options: &'static str,
    },
    Unmount {
        path: &'static [u8],
    },
    Sync,
}

/// The buffer `getdents` gets.
pub(crate) const GETDENTS_BUF: usize = 512;

impl Op {
    /// Whether the reference model knows this call.
    pub fn modelled(&self) -> bool {
        !matches!(
            self,
            Op::Getdents { .. } | Op::Mount { .. } | Op::Unmount { .. }
        )
    }

    fn decode(input: &mut Input<'_>) -> Op {
        let path = |input: &mut Input<'_>| PATHS[input.below(PATHS.len())].as_bytes();
        // -1 ..= 7: the first descriptors, and one that can never be.
        let fd = |input: &mut Input<'_>| input.below(9) as i32 - 1;
        let small = |input: &mut Input<'_>| i64::from(input.byte() as i8);
        match input.below(26) {
            0..=2 => Op::Open {
                path: path(input),
                flags: OPEN_FLAGS[input.below(OPEN_FLAGS.len())].0,
                mode: 0o644,
            },
            3 => Op::Close { fd: fd(input) },
            4 => Op::Read {
                fd: fd(input),
                len: input.below(65),
            },
            5 | 6 => Op::Write {
                fd: fd(input),
                data: input.bytes(32),
            },
            7 => Op::Pread {
                fd: fd(input),
                len: input.below(65),
                offset: small(input),
            },
            8 => Op::Pwrite {
                fd: fd(input),
                data: input.bytes(32),
                offset: small(input),
            },
            9 => Op::Lseek {
                fd: fd(input),
                offset: small(input),
                whence: WHENCES[input.below(WHENCES.len())].0,
            },
            10 => Op::Fsync { fd: fd(input) },
            11 => Op::Ftruncate {
                fd: fd(input),
                len: small(input),
            },
            12 => Op::Truncate {
                path: path(input),
                len: small(input),
            },
            13 => Op::Stat { path: path(input) },
            14 => Op::Lstat { path: path(input) },
            15 => Op::Fstat { fd: fd(input) },
            16 => Op::Mkdir { path: path(input) },
            17 => Op::Rmdir { path: path(input) },
            18 => Op::Unlink { path: path(input) },
            19 => Op::Rename {
                from: path(input),
                to: path(input),
            },
            20 => Op::Link {
                existing: path(input),
                new: path(input),
            },
            21 => Op::Symlink {
                target: path(input),
                path: path(input),
            },
            22 => Op::Readlink {
                path: path(input),
                len: input.below(9),
            },
            23 => match input.below(4) {
                0 => Op::Getdents { fd: fd(input) },
                1 => Op::Sync,
                _ => Op::Dup { fd: fd(input) },
            },
            24 => Op::Chmod {
                path: path(input),
                mode: u32::from(input.u16()) & 0o7777,
            },
            _ => match input.below(3) {
                0 => Op::Unmount {
                    path: UNMOUNT_PATHS[input.below(UNMOUNT_PATHS.len())].as_bytes(),
                },
                _ => Op::Mount {
                    fstype: FSTYPES[input.below(FSTYPES.len())],
                    path: path(input),
                    options: MOUNT_OPTIONS[input.below(MOUNT_OPTIONS.len())],
                },
            },
        }
    }

    /// Runs the call on the kernel as process `sys`; the inode number is
    /// there for `stat`, `lstat` and `fstat`.
    pub fn run(&self, sys: &Sys<'_>) -> Answer<u64> {
        let unit = |r: Result<(), Errno>| r.map(|()| (Val::N(0), None));
        let stat = |r: Result<rumpkit_kernel::Stat, Errno>| {
            let st = r?;
            let kind = st.mode & S_IFMT;
            let size = (kind != S_IFDIR).then_some(st.size);
            Ok((Val::Stat(kind, st.nlink, size), Some(st.ino)))
        };
        let count = |r: Result<usize, Errno>| r.map(|n| (Val::N(n as i64), None));
        let read = |len: usize, f: &dyn Fn(&mut [u8]) -> Result<usize, Errno>| {
            let mut buf = vec![0; len];
            f(&mut buf).map(|n| {
                assert!(n <= len, "read {n} bytes into {len}");
                (Val::Bytes(buf[..n].to_vec()), None)
            })
        };
        match self {
            Op::Open { path, flags, mode } => sys
                .open(path, *flags, *mode)
                .map(|fd| (Val::N(fd.into()), None)),
            Op::Close { fd } => unit(sys.close(*fd)),
            Op::Read { fd, len } => read(*len, &|buf| sys.read(*fd, buf)),
            Op::Write { fd, data } => count(sys.write(*fd, data)),
            Op::Pread { fd, len, offset } => read(*len, &|buf| sys.pread(*fd, buf, *offset)),
            Op::Pwrite { fd, data, offset } => count(sys.pwrite(*fd, data, *offset)),
            Op::Lseek { fd, offset, whence } => sys
                .lseek(*fd, *offset, *whence)
                .map(|o| (Val::N(o as i64), None)),
            Op::Fsync { fd } => unit(sys.fsync(*fd)),
            Op::Ftruncate { fd, len } => unit(sys.ftruncate(*fd, *len)),
            Op::Truncate { path, len } => unit(sys.truncate(path, *len)),
            Op::Stat { path } => stat(sys.stat(path)),
            Op::Lstat { path } => stat(sys.lstat(path)),
            Op::Fstat { fd } => stat(sys.fstat(*fd)),
            Op::Mkdir { path } => unit(sys.mkdir(path, 0o755)),
            Op::Rmdir { path } => unit(sys.rmdir(path)),
            Op::Unlink { path } => unit(sys.unlink(path)),
            Op::Rename { from, to } => unit(sys.rename(from, to)),
            Op::Link { existing, new } => unit(sys.link(existing, new)),
            Op::Symlink { target, path } => unit(sys.symlink(target, path)),
            Op::Readlink { path, len } => read(*len, &|buf| sys.readlink(path, buf)),
            Op::Getdents { fd } => read(GETDENTS_BUF, &|buf| sys.getdents(*fd, buf)),
            Op::Chmod { path, mode } => unit(sys.chmod(path, *mode)),
            Op::Dup { fd } => sys.dup(*fd).map(|fd| (Val::N(fd.into()), None)),
            Op::Mount {
                fstype,
                path,
                options,
            } => unit(sys.mount(fstype.as_bytes(), path, 0, options.as_bytes())),
            Op::Unmount { path } => unit(sys.unmount(path, 0)),
            Op::Sync => unit(sys.sync()),
        }
    }
}

/// A decoded `syscalls` input.
#[derive(Debug, Clone)]
pub(crate) struct Program {
    pub schedule: Schedule,
    /// The fault plan, and its canonical text ("" for none).
    pub plan: FaultPlan,
    pub faults: String,
    /// Each thread's calls, in order.
    pub threads: Vec<Vec<Op>>,
}

impl Program {
    pub(crate) fn decode(data: &[u8]) -> Program {
        let mut input = Input::new(data);
        let schedule = Schedule::decode(&mut input);
        let shape = input.byte();
        let nthreads = match shape % 4 {
            0 | 1 => 1,
            2 => 2,
            _ => 3,
        };
        let mut rules = Vec::new();
        if shape & 0x04 != 0 {
            for _ in 0..1 + usize::from(shape & 0x08 != 0) {
                let n = input.byte();
                rules.push(match input.below(5) {
                    0 => format!("alloc nth={}", 1 + u32::from(n)),
                    1 => format!("alloc p={}", super::probability(n)),
                    2 => format!("alloc site=tmpfs nth={}", 1 + u32::from(n) % 32),
                    3 => format!("alloc site=vfs* p={}", super::probability(n)),
                    _ => format!("alloc site=proc nth={}", 1 + u32::from(n) % 8),
                });
            }
        }
        let (plan, faults) = super::plan(&rules.join("; "));
        let mut threads = vec![Vec::new(); nthreads];
        let mut ops = 0;
        while !input.is_empty() && ops < MAX_OPS {
            let thread = if nthreads > 1 {
                input.below(nthreads)
            } else {
                0
            };
            threads[thread].push(Op::decode(&mut input));
            ops += 1;
        }
        Program {
            schedule,
            plan,
            faults,
            threads,
        }
    }

    /// Whether results are compared with the model.
    pub(crate) fn modelled(&self) -> bool {
        self.threads.len() == 1 && self.faults.is_empty()
    }
}

/// The errors no call of this target may give.
fn check_errno(op: &Op, errno: Errno, alloc_faults: bool) {
    let bad = match errno {
        Errno::ENOSYS | Errno::ESRCH | Errno::EFAULT | Errno::EIO => true,
        Errno::ENOMEM => !alloc_faults,
        _ => false,
    };
    assert!(!bad, "syscalls: {op:?} gave {errno:?}");
}

/// The `syscalls` fuzz target.
pub fn syscalls(data: &[u8]) {
    let program = Program::decode(data);
    let alloc_faults = !program.faults.is_empty();
    let modelled = program.modelled();
    let mut sim = rumpkit_fault::Sim::new(super::sim_config(
        &program.schedule,
        program.plan.clone(),
        program.threads.len(),
    ));
    let Some(kernel) = super::boot(&sim) else {
        assert!(alloc_faults, "syscalls: boot failed without faults");
        super::check_report("syscalls", &sim.run());
        return;
    };
    let pid = kernel.proc_create().ok();
    let mut clients: Vec<super::Client> = Vec::new();
    if let Some(pid) = pid {
        let mounted = kernel.sys(pid).mount(b"tmpfs", b"/", 0, b"");
        assert!(
            mounted.is_ok() || alloc_faults,
            "syscalls: mount tmpfs on / failed: {mounted:?}"
        );
        for ops in program.threads {
            // Only a single-threaded program has a checker that is on.
            let mut checker = Checker::new(modelled && mounted.is_ok());
            clients.push(Box::new(move |kernel: &Kernel| {
                let sys = kernel.sys(pid);
                for (i, op) in ops.iter().enumerate() {
                    let answer = op.run(&sys);
                    if let Err(errno) = &answer {
                        check_errno(op, *errno, alloc_faults);
                    }
                    if let Err(message) = checker.step(i, op, &answer) {
                        panic!("syscalls: {message}");
                    }
                }
                // At the end, every name looks the same on both sides.
                if let Err(message) = checker.finish(&sys, ops.len()) {
                    panic!("syscalls: {message}");
                }
            }));
        }
    } else {
        assert!(alloc_faults, "syscalls: proc_create failed without faults");
    }
    super::spawn_clients("syscalls", &sim, kernel, pid, clients);
    super::check_report("syscalls", &sim.run());
}
