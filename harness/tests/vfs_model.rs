//! A model-based test of the vfs faction over tmpfs: proptest makes random
//! sequences of the `syscalls` fuzz target's typed calls ([`Op`]) over its
//! small fixed set of names ([`PATHS`], so that names collide, directories
//! fill up and symlinks loop), runs each sequence on a fresh kernel on the
//! host platform and on the reference model ([`rumpkit::fuzzing::model`], a
//! small in-memory file system written from Linux's rules), and requires the
//! same result or errno at every step, inode numbers compared as a relation.
//! At the end every name must `lstat` the same on both sides, and the kernel
//! must halt without leaking.
//!
//! The sequences use every call the model knows: `open` (with the target's
//! flag sets), `close`, `read`, `write`, `pread`, `pwrite`, `lseek`, `fsync`,
//! `ftruncate`, `truncate`, `stat`, `lstat`, `fstat`, `mkdir`, `rmdir`,
//! `unlink`, `rename`, `link`, `symlink`, `readlink`, `chmod`, `dup` and
//! `sync`. A failure names the step, the call, both answers, and the whole
//! sequence as scenario lines.

use std::sync::Arc;

use proptest::prelude::*;
use proptest::sample::select;
use rumpkit::fuzzing::model::{Checker, Model, Val};
use rumpkit::fuzzing::{Op, OPEN_FLAGS, PATHS, WHENCES};
use rumpkit_host::HostPlatform;
use rumpkit_kernel::hypercall::Hypercalls;
use rumpkit_kernel::syscall::abi::*;
use rumpkit_kernel::{BootConfig, Errno::*, Faction, Kernel};

fn op_strategy() -> impl Strategy<Value = Op> {
    let path = || select(PATHS).prop_map(str::as_bytes);
    let fd = || -1i32..5;
    let data = || proptest::collection::vec(any::<u8>(), 0..12);
    prop_oneof![
        4 => (path(), select(OPEN_FLAGS))
            .prop_map(|(path, (flags, _))| Op::Open { path, flags, mode: 0o644 }),
        2 => fd().prop_map(|fd| Op::Close { fd }),
        3 => (fd(), data()).prop_map(|(fd, data)| Op::Write { fd, data }),
        3 => (fd(), 0usize..16).prop_map(|(fd, len)| Op::Read { fd, len }),
        1 => (fd(), data(), -2i64..12)
            .prop_map(|(fd, data, offset)| Op::Pwrite { fd, data, offset }),
        1 => (fd(), 0usize..16, -2i64..12)
            .prop_map(|(fd, len, offset)| Op::Pread { fd, len, offset }),
        2 => (fd(), -4i64..8, select(WHENCES))
            .prop_map(|(fd, offset, (whence, _))| Op::Lseek { fd, offset, whence }),
        1 => fd().prop_map(|fd| Op::Fsync { fd }),
        1 => (fd(), -1i64..10).prop_map(|(fd, len)| Op::Ftruncate { fd, len }),
        1 => fd().prop_map(|fd| Op::Fstat { fd }),
        1 => fd().prop_map(|fd| Op::Dup { fd }),
        3 => path().prop_map(|path| Op::Mkdir { path }),
        2 => path().prop_map(|path| Op::Rmdir { path }),
        2 => path().prop_map(|path| Op::Unlink { path }),
        3 => (path(), path()).prop_map(|(from, to)| Op::Rename { from, to }),
        2 => (path(), path()).prop_map(|(existing, new)| Op::Link { existing, new }),
        2 => (path(), path()).prop_map(|(target, path)| Op::Symlink { target, path }),
        1 => (path(), 0usize..9).prop_map(|(path, len)| Op::Readlink { path, len }),
        1 => (path(), -1i64..10).prop_map(|(path, len)| Op::Truncate { path, len }),
        1 => (path(), 0u32..0o10000).prop_map(|(path, mode)| Op::Chmod { path, mode }),
        2 => path().prop_map(|path| Op::Stat { path }),
        2 => path().prop_map(|path| Op::Lstat { path }),
        1 => Just(Op::Sync),
    ]
}

/// Runs `ops` on a fresh vfs + tmpfs kernel and on the model; the first
/// difference, with the whole sequence, as the error.
fn check_sequence(ops: &[Op]) -> Result<(), String> {
    let host = HostPlatform::new();
    let platform: Arc<dyn Hypercalls> = host.clone();
    let kernel = Kernel::boot(
        platform,
        &BootConfig {
            factions: &[Faction::Vfs],
            components: &[&rumpkit_tmpfs::COMPONENT],
            memory_limit_bytes: None,
        },
    )
    .unwrap_or_else(|error| panic!("boot failed: {error}"));
    let pid = kernel.proc_create().expect("proc_create");
    let sys = kernel.sys(pid);
    sys.mount(b"tmpfs", b"/", 0, b"").expect("mount tmpfs on /");
    let mut checker = Checker::new(true);
    let result = ops
        .iter()
        .enumerate()
        .try_for_each(|(i, op)| checker.step(i, op, &op.run(&sys)))
        .and_then(|()| checker.finish(&sys, ops.len()));
    kernel.proc_destroy(pid).expect("proc_destroy");
    let report = kernel.halt().expect("halt: kernel still referenced");
    assert!(
        !report.leaked(),
        "kernel memory leaked at halt: {:?}",
        report.memory
    );
    drop(host);
    result.map_err(|message| {
        let listing: String = ops
            .iter()
            .enumerate()
            .map(|(i, op)| format!("\n  {i:2}: {op}"))
            .collect();
        format!("{message}\nthe sequence (then an lstat of every name):{listing}")
    })
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 512,
        max_shrink_iters: 4096,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn tmpfs_matches_the_model(ops in proptest::collection::vec(op_strategy(), 1..60)) {
        check_sequence(&ops).map_err(TestCaseError::fail)?;
    }
}

/// The model's answers to `ops`, without inode numbers.
fn model_answers(ops: &[Op]) -> Vec<Result<Val, rumpkit_kernel::Errno>> {
    let mut model = Model::new();
    ops.iter()
        .map(|op| model.apply(op).expect("modelled").map(|(v, _)| v))
        .collect()
}

/// The model itself must be right where it matters most; these sequences
/// pin a few of its answers (they fail if the model, or the kernel, drifts).
#[test]
fn model_knows_the_rename_traps() {
    let ops = [
        Op::Mkdir { path: b"/a" },
        Op::Mkdir { path: b"/a/a" },
        // Into itself.
        Op::Rename {
            from: b"/a",
            to: b"/a/a/b",
        },
        // Onto its own ancestor.
        Op::Rename {
            from: b"/a/a",
            to: b"/a",
        },
        // A missing source.
        Op::Rename {
            from: b"/a/b",
            to: b"/a",
        },
    ];
    assert_eq!(
        model_answers(&ops),
        [
            Ok(Val::N(0)),
            Ok(Val::N(0)),
            Err(EINVAL),
            Err(ENOTEMPTY),
            Err(ENOENT)
        ]
    );
    check_sequence(&ops).unwrap();
}

#[test]
fn model_follows_symlink_loops_to_eloop() {
    let ops = [
        Op::Symlink {
            target: b"/b",
            path: b"/a",
        },
        Op::Symlink {
            target: b"/a",
            path: b"/b",
        },
        Op::Stat { path: b"/a" },
        Op::Open {
            path: b"/a/a",
            flags: O_CREAT | O_RDWR,
            mode: 0o644,
        },
        Op::Lstat { path: b"/a" },
        Op::Readlink {
            path: b"/a",
            len: 8,
        },
    ];
    let answers = model_answers(&ops);
    assert_eq!(answers[2], Err(ELOOP));
    assert_eq!(answers[3], Err(ELOOP));
    assert_eq!(answers[4], Ok(Val::Stat(S_IFLNK, 1, Some(2))));
    assert_eq!(answers[5], Ok(Val::Bytes(b"/b".to_vec())));
    check_sequence(&ops).unwrap();
}

/// `open(O_CREAT)` through a dangling symlink creates the symlink's target,
/// as on Linux.
#[test]
fn model_creates_through_dangling_symlinks() {
    let ops = [
        // /a -> /b, which does not exist.
        Op::Symlink {
            target: b"/b",
            path: b"/a",
        },
        Op::Open {
            path: b"/a",
            flags: O_CREAT | O_RDWR,
            mode: 0o644,
        },
        Op::Stat { path: b"/b" },
    ];
    let answers = model_answers(&ops);
    assert_eq!(answers[1], Ok(Val::N(0)));
    assert_eq!(answers[2], Ok(Val::Stat(S_IFREG, 1, Some(0))));
    check_sequence(&ops).unwrap();
}

/// `dup`ed descriptors share one offset; `pread` and `pwrite` leave it alone.
#[test]
fn model_shares_offsets_between_dups() {
    let ops = [
        Op::Open {
            path: b"/a",
            flags: O_CREAT | O_RDWR,
            mode: 0o644,
        },
        Op::Dup { fd: 0 },
        Op::Write {
            fd: 0,
            data: b"abc".to_vec(),
        },
        Op::Pwrite {
            fd: 1,
            data: b"Z".to_vec(),
            offset: 0,
        },
        Op::Lseek {
            fd: 1,
            offset: 0,
            whence: SEEK_CUR,
        },
        Op::Pread {
            fd: 0,
            len: 8,
            offset: 0,
        },
    ];
    let answers = model_answers(&ops);
    assert_eq!(answers[1], Ok(Val::N(1)));
    assert_eq!(answers[4], Ok(Val::N(3)));
    assert_eq!(answers[5], Ok(Val::Bytes(b"Zbc".to_vec())));
    check_sequence(&ops).unwrap();
}
