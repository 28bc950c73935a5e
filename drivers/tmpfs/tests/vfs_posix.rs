//! POSIX semantics of the vfs faction over tmpfs, as tables: each case is a
//! short script of system calls, each with the result or errno Linux gives.
//! Every case boots a fresh kernel on the host platform, runs its script and
//! halts the kernel, which must not have leaked.
//!
//! Descriptors are predictable: a new process has none open, and `open` and
//! `dup` take the lowest free one, so the first file opened is descriptor 0.

mod common;

use common::{list_dir, tmpfs, World};
use rstest::rstest;
use rumpkit_kernel::syscall::abi::*;
use rumpkit_kernel::{Errno, Errno::*, Faction, Sys};

/// One system call (or a small read-back built from system calls).
#[derive(Debug, Clone)]
enum Op {
    Open(&'static str, u32, u32),
    Close(i32),
    Write(i32, &'static str),
    /// `read` of up to n bytes: the bytes read.
    Read(i32, usize),
    /// `pread` of up to n bytes at an offset: the bytes read.
    Pread(i32, usize, i64),
    Pwrite(i32, &'static str, i64),
    Lseek(i32, i64, u32),
    Ftruncate(i32, i64),
    Truncate(&'static str, i64),
    Fsync(i32),
    Mkdir(&'static str),
    Rmdir(&'static str),
    Unlink(&'static str),
    Rename(&'static str, &'static str),
    Link(&'static str, &'static str),
    Symlink(&'static str, &'static str),
    /// `readlink`: the target.
    Readlink(&'static str),
    Chmod(&'static str, u32),
    Dup(i32),
    Mount(&'static str, &'static str, &'static str),
    Unmount(&'static str, u32),
    Sync,
    /// `stat(path).size`.
    Size(&'static str),
    /// `stat(path).mode`.
    Mode(&'static str),
    /// `lstat(path).mode`.
    Lmode(&'static str),
    /// `lstat(path).size`.
    Lsize(&'static str),
    /// `stat(path).nlink`.
    Nlink(&'static str),
    /// `fstat(fd).size`.
    Fsize(i32),
    /// `fstat(fd).nlink`.
    Fnlink(i32),
    /// Whether `stat` of both paths gives the same (dev, ino): 1 or 0.
    SameFile(&'static str, &'static str),
    /// Whether `stat` of both paths gives the same device: 1 or 0.
    SameDev(&'static str, &'static str),
    /// The whole contents of a file, read through a fresh descriptor.
    Cat(&'static str),
    /// The names in a directory, sorted, joined with spaces.
    Ls(&'static str),
}
use Op::*;

/// What a call gave: a number, or bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Val {
    N(i64),
    B(Vec<u8>),
}

type Res = Result<Val, Errno>;

fn n(value: i64) -> Res {
    Ok(Val::N(value))
}

fn b(text: &str) -> Res {
    Ok(Val::B(text.as_bytes().to_vec()))
}

fn e(errno: Errno) -> Res {
    Err(errno)
}

fn stat_field(
    result: Result<rumpkit_kernel::Stat, Errno>,
    field: impl Fn(&rumpkit_kernel::Stat) -> i64,
) -> Res {
    result.map(|st| Val::N(field(&st)))
}

fn run(sys: &Sys<'_>, op: &Op) -> Res {
    let unit = |r: Result<(), Errno>| r.map(|()| Val::N(0));
    match *op {
        Open(path, flags, mode) => sys
            .open(path.as_bytes(), flags, mode)
            .map(|fd| Val::N(fd.into())),
        Close(fd) => unit(sys.close(fd)),
        Write(fd, data) => sys.write(fd, data.as_bytes()).map(|n| Val::N(n as i64)),
        Read(fd, len) => {
            let mut buf = vec![0; len];
            sys.read(fd, &mut buf).map(|n| Val::B(buf[..n].to_vec()))
        }
        Pread(fd, len, offset) => {
            let mut buf = vec![0; len];
            sys.pread(fd, &mut buf, offset)
                .map(|n| Val::B(buf[..n].to_vec()))
        }
        Pwrite(fd, data, offset) => sys
            .pwrite(fd, data.as_bytes(), offset)
            .map(|n| Val::N(n as i64)),
        Lseek(fd, offset, whence) => sys.lseek(fd, offset, whence).map(|o| Val::N(o as i64)),
        Ftruncate(fd, len) => unit(sys.ftruncate(fd, len)),
        Truncate(path, len) => unit(sys.truncate(path.as_bytes(), len)),
        Fsync(fd) => unit(sys.fsync(fd)),
        Mkdir(path) => unit(sys.mkdir(path.as_bytes(), 0o755)),
        Rmdir(path) => unit(sys.rmdir(path.as_bytes())),
        Unlink(path) => unit(sys.unlink(path.as_bytes())),
        Rename(from, to) => unit(sys.rename(from.as_bytes(), to.as_bytes())),
        Link(from, to) => unit(sys.link(from.as_bytes(), to.as_bytes())),
        Symlink(target, path) => unit(sys.symlink(target.as_bytes(), path.as_bytes())),
        Readlink(path) => {
            let mut buf = vec![0; 4096];
            sys.readlink(path.as_bytes(), &mut buf)
                .map(|n| Val::B(buf[..n].to_vec()))
        }
        Chmod(path, mode) => unit(sys.chmod(path.as_bytes(), mode)),
        Dup(fd) => sys.dup(fd).map(|fd| Val::N(fd.into())),
        Mount(fstype, target, options) => {
            unit(sys.mount(fstype.as_bytes(), target.as_bytes(), 0, options.as_bytes()))
        }
        Unmount(target, flags) => unit(sys.unmount(target.as_bytes(), flags)),
        Sync => unit(sys.sync()),
        Size(path) => stat_field(sys.stat(path.as_bytes()), |st| st.size),
        Mode(path) => stat_field(sys.stat(path.as_bytes()), |st| st.mode.into()),
        Lmode(path) => stat_field(sys.lstat(path.as_bytes()), |st| st.mode.into()),
        Lsize(path) => stat_field(sys.lstat(path.as_bytes()), |st| st.size),
        Nlink(path) => stat_field(sys.stat(path.as_bytes()), |st| st.nlink.into()),
        Fsize(fd) => stat_field(sys.fstat(fd), |st| st.size),
        Fnlink(fd) => stat_field(sys.fstat(fd), |st| st.nlink.into()),
        SameFile(a, b) => {
            let a = sys.stat(a.as_bytes())?;
            let b = sys.stat(b.as_bytes())?;
            Ok(Val::N(i64::from((a.dev, a.ino) == (b.dev, b.ino))))
        }
        SameDev(a, b) => {
            let a = sys.stat(a.as_bytes())?;
            let b = sys.stat(b.as_bytes())?;
            Ok(Val::N(i64::from(a.dev == b.dev)))
        }
        Cat(path) => {
            let fd = sys.open(path.as_bytes(), O_RDONLY, 0)?;
            let mut contents = Vec::new();
            let mut buf = [0u8; 256];
            loop {
                match sys.read(fd, &mut buf) {
                    Ok(0) => break,
                    Ok(n) => contents.extend_from_slice(&buf[..n]),
                    Err(errno) => {
                        sys.close(fd).expect("close");
                        return Err(errno);
                    }
                }
            }
            sys.close(fd).expect("close");
            Ok(Val::B(contents))
        }
        Ls(path) => list_dir(sys, path.as_bytes()).map(|names| {
            let names: Vec<String> = names
                .iter()
                .map(|name| String::from_utf8_lossy(name).into_owned())
                .collect();
            Val::B(names.join(" ").into_bytes())
        }),
    }
}

/// Runs `script` on `world`, comparing every step.
fn check_script(world: &World, script: &[(Op, Res)]) {
    let sys = world.sys();
    for (step, (op, expected)) in script.iter().enumerate() {
        let actual = run(&sys, op);
        assert_eq!(
            &actual, expected,
            "step {step}: {op:?} gave {actual:?}, expected {expected:?}; script: {script:?}"
        );
    }
}

/// Boots vfs + tmpfs on `/`, runs `script`, halts.
fn on_tmpfs(script: &[(Op, Res)]) {
    let world = World::tmpfs();
    check_script(&world, script);
    world.finish();
}

const CREATE: u32 = O_CREAT | O_RDWR;
const FILE644: i64 = (S_IFREG | 0o644) as i64;

fn file(path: &'static str, contents: &'static str) -> [(Op, Res); 3] {
    [
        (Open(path, CREATE, 0o644), Ok(Val::N(0))),
        (Write(0, contents), n(contents.len() as i64)),
        (Close(0), n(0)),
    ]
}

fn with(setup: &[&[(Op, Res)]], steps: &[(Op, Res)]) -> Vec<(Op, Res)> {
    let mut script: Vec<(Op, Res)> = setup.iter().flat_map(|s| s.iter().cloned()).collect();
    script.extend_from_slice(steps);
    script
}

// ----- open flags -----------------------------------------------------------

#[rstest]
#[case::missing_without_creat(vec![(Open("/f", O_RDONLY, 0), e(ENOENT))])]
#[case::creat_makes_a_file(vec![
    (Open("/f", O_CREAT | O_WRONLY, 0o644), n(0)),
    (Mode("/f"), n(FILE644)),
    (Size("/f"), n(0)),
])]
#[case::creat_on_existing_opens_it(with(&[&file("/f", "abc")], &[
    (Open("/f", O_CREAT | O_RDONLY, 0o600), n(0)),
    (Read(0, 10), b("abc")),
    (Mode("/f"), n(FILE644)),
]))]
#[case::excl_on_existing(with(&[&file("/f", "abc")], &[(Open("/f", CREATE | O_EXCL, 0o644), e(EEXIST))]))]
#[case::excl_on_new(vec![(Open("/f", CREATE | O_EXCL, 0o644), n(0))])]
#[case::excl_on_dangling_symlink(vec![
    (Symlink("/nowhere", "/l"), n(0)),
    (Open("/l", CREATE | O_EXCL, 0o644), e(EEXIST)),
    (Open("/nowhere", O_RDONLY, 0), e(ENOENT)),
])]
#[case::creat_through_dangling_symlink_makes_target(vec![
    (Symlink("/target", "/l"), n(0)),
    (Open("/l", O_CREAT | O_WRONLY, 0o644), n(0)),
    (Lmode("/target"), n(FILE644)),
])]
#[case::creat_on_directory(vec![(Mkdir("/d"), n(0)), (Open("/d", O_CREAT | O_RDONLY, 0o644), e(EISDIR))])]
#[case::directory_for_writing(vec![(Mkdir("/d"), n(0)), (Open("/d", O_WRONLY, 0), e(EISDIR))])]
#[case::directory_for_read_write(vec![(Mkdir("/d"), n(0)), (Open("/d", O_RDWR, 0), e(EISDIR))])]
#[case::directory_read_only(vec![(Mkdir("/d"), n(0)), (Open("/d", O_RDONLY, 0), n(0))])]
#[case::o_directory_on_file(with(&[&file("/f", "x")], &[(Open("/f", O_RDONLY | O_DIRECTORY, 0), e(ENOTDIR))]))]
#[case::o_directory_on_dir(vec![(Mkdir("/d"), n(0)), (Open("/d", O_RDONLY | O_DIRECTORY, 0), n(0))])]
#[case::o_directory_through_symlink(vec![
    (Mkdir("/d"), n(0)),
    (Symlink("/d", "/l"), n(0)),
    (Open("/l", O_RDONLY | O_DIRECTORY, 0), n(0)),
])]
#[case::trunc_empties(with(&[&file("/f", "hello")], &[
    (Open("/f", O_WRONLY | O_TRUNC, 0), n(0)),
    (Fsize(0), n(0)),
    (Size("/f"), n(0)),
]))]
#[case::trunc_on_directory(vec![(Mkdir("/d"), n(0)), (Open("/d", O_RDONLY | O_TRUNC, 0), e(EISDIR))])]
#[case::append_goes_to_end(with(&[&file("/f", "ab")], &[
    (Open("/f", O_WRONLY | O_APPEND, 0), n(0)),
    (Lseek(0, 0, SEEK_SET), n(0)),
    (Write(0, "cd"), n(2)),
    (Lseek(0, 0, SEEK_CUR), n(4)),
    (Cat("/f"), b("abcd")),
]))]
#[case::append_pwrite_still_appends_on_linux(with(&[&file("/f", "ab")], &[
    (Open("/f", O_WRONLY | O_APPEND, 0), n(0)),
    (Pwrite(0, "X", 0), n(1)),
    (Cat("/f"), b("abX")),
]))]
#[case::read_on_write_only(with(&[&file("/f", "ab")], &[
    (Open("/f", O_WRONLY, 0), n(0)),
    (Read(0, 1), e(EBADF)),
    (Pread(0, 1, 0), e(EBADF)),
]))]
#[case::write_on_read_only(with(&[&file("/f", "ab")], &[
    (Open("/f", O_RDONLY, 0), n(0)),
    (Write(0, "x"), e(EBADF)),
    (Pwrite(0, "x", 0), e(EBADF)),
]))]
#[case::missing_parent(vec![(Open("/no/f", CREATE, 0o644), e(ENOENT))])]
#[case::file_as_parent(with(&[&file("/f", "")], &[(Open("/f/g", CREATE, 0o644), e(ENOTDIR))]))]
#[case::trailing_slash_on_file(with(&[&file("/f", "")], &[(Open("/f/", O_RDONLY, 0), e(ENOTDIR))]))]
#[case::trailing_slash_creat(vec![(Open("/f/", CREATE, 0o644), e(EISDIR))])]
#[case::empty_path(vec![(Open("", O_RDONLY, 0), e(ENOENT))])]
#[case::nofollow_on_symlink(with(&[&file("/f", "")], &[
    (Symlink("/f", "/l"), n(0)),
    (Open("/l", O_RDONLY | O_NOFOLLOW, 0), e(ELOOP)),
]))]
#[case::dot_and_dotdot(vec![
    (Mkdir("/d"), n(0)),
    (Open("/d/../d/./f", CREATE, 0o644), n(0)),
    (Ls("/d"), b(". .. f")),
    (Open("/..", O_RDONLY, 0), n(1)),
])]
fn open_flags(#[case] script: Vec<(Op, Res)>) {
    on_tmpfs(&script);
}

// ----- read, write, pread, pwrite, lseek -------------------------------------

#[rstest]
#[case::write_then_read(vec![
    (Open("/f", CREATE, 0o644), n(0)),
    (Write(0, "hello"), n(5)),
    (Read(0, 10), b("")),
    (Lseek(0, 0, SEEK_SET), n(0)),
    (Read(0, 3), b("hel")),
    (Read(0, 10), b("lo")),
    (Read(0, 10), b("")),
])]
#[case::pread_keeps_offset(vec![
    (Open("/f", CREATE, 0o644), n(0)),
    (Write(0, "hello"), n(5)),
    (Pread(0, 3, 1), b("ell")),
    (Lseek(0, 0, SEEK_CUR), n(5)),
    (Pread(0, 10, 5), b("")),
    (Pread(0, 10, 100), b("")),
])]
#[case::pwrite_makes_hole(vec![
    (Open("/f", CREATE, 0o644), n(0)),
    (Write(0, "ab"), n(2)),
    (Pwrite(0, "z", 4), n(1)),
    (Lseek(0, 0, SEEK_CUR), n(2)),
    (Size("/f"), n(5)),
    (Pread(0, 10, 0), b("ab\0\0z")),
])]
#[case::negative_offsets(vec![
    (Open("/f", CREATE, 0o644), n(0)),
    (Pread(0, 1, -1), e(EINVAL)),
    (Pwrite(0, "x", -1), e(EINVAL)),
    (Lseek(0, -1, SEEK_SET), e(EINVAL)),
    (Lseek(0, -1, SEEK_CUR), e(EINVAL)),
    (Lseek(0, 0, SEEK_CUR), n(0)),
])]
#[case::lseek_whences(vec![
    (Open("/f", CREATE, 0o644), n(0)),
    (Write(0, "hello"), n(5)),
    (Lseek(0, -2, SEEK_END), n(3)),
    (Read(0, 10), b("lo")),
    (Lseek(0, -4, SEEK_CUR), n(1)),
    (Lseek(0, 7, SEEK_DATA), e(ENXIO)),
    (Lseek(0, 0, 99), e(EINVAL)),
    (Lseek(0, 0, SEEK_CUR), n(1)),
])]
#[case::seek_data_and_hole(vec![
    (Open("/f", CREATE, 0o644), n(0)),
    (Lseek(0, 0, SEEK_DATA), e(ENXIO)),
    (Lseek(0, 0, SEEK_HOLE), e(ENXIO)),
    (Write(0, "hello"), n(5)),
    (Lseek(0, 2, SEEK_DATA), n(2)),
    (Lseek(0, 0, SEEK_CUR), n(2)),
    (Lseek(0, 1, SEEK_HOLE), n(5)),
    (Lseek(0, 0, SEEK_CUR), n(5)),
    (Lseek(0, 5, SEEK_DATA), e(ENXIO)),
    (Lseek(0, 5, SEEK_HOLE), e(ENXIO)),
    (Lseek(0, -1, SEEK_DATA), e(ENXIO)),
    (Lseek(0, 0, SEEK_CUR), n(5)),
    (Mkdir("/d"), n(0)),
    (Open("/d", O_RDONLY, 0), n(1)),
    (Lseek(1, 0, SEEK_DATA), e(EINVAL)),
])]
#[case::seek_past_end_then_write(vec![
    (Open("/f", CREATE, 0o644), n(0)),
    (Lseek(0, 3, SEEK_SET), n(3)),
    (Size("/f"), n(0)),
    (Write(0, "x"), n(1)),
    (Cat("/f"), b("\0\0\0x")),
])]
#[case::read_directory(vec![(Mkdir("/d"), n(0)), (Open("/d", O_RDONLY, 0), n(0)), (Read(0, 10), e(EISDIR))])]
#[case::bad_descriptors(vec![
    (Read(0, 1), e(EBADF)),
    (Write(3, "x"), e(EBADF)),
    (Read(-1, 1), e(EBADF)),
    (Lseek(7, 0, SEEK_SET), e(EBADF)),
    (Close(0), e(EBADF)),
    (Fsync(0), e(EBADF)),
])]
#[case::close_twice(vec![(Open("/f", CREATE, 0o644), n(0)), (Close(0), n(0)), (Close(0), e(EBADF))])]
#[case::fsync_and_sync(vec![(Open("/f", CREATE, 0o644), n(0)), (Write(0, "x"), n(1)), (Fsync(0), n(0)), (Sync, n(0))])]
#[case::zero_length_write(vec![(Open("/f", CREATE, 0o644), n(0)), (Write(0, ""), n(0)), (Size("/f"), n(0))])]
#[case::unlinked_file_stays_open(vec![
    (Open("/f", CREATE, 0o644), n(0)),
    (Write(0, "data"), n(4)),
    (Unlink("/f"), n(0)),
    (Open("/f", O_RDONLY, 0), e(ENOENT)),
    (Pread(0, 10, 0), b("data")),
    (Fnlink(0), n(0)),
    (Write(0, "more"), n(4)),
    (Fsize(0), n(8)),
    (Close(0), n(0)),
])]
fn read_write(#[case] script: Vec<(Op, Res)>) {
    on_tmpfs(&script);
}

// ----- truncate, ftruncate ---------------------------------------------------

#[rstest]
#[case::truncate_shrinks_and_grows(with(&[&file("/f", "hello")], &[
    (Truncate("/f", 2), n(0)),
    (Cat("/f"), b("he")),
    (Truncate("/f", 4), n(0)),
    (Cat("/f"), b("he\0\0")),
]))]
#[case::truncate_negative(with(&[&file("/f", "hello")], &[(Truncate("/f", -1), e(EINVAL)), (Size("/f"), n(5))]))]
#[case::truncate_directory(vec![(Mkdir("/d"), n(0)), (Truncate("/d", 0), e(EISDIR))])]
#[case::truncate_missing(vec![(Truncate("/f", 0), e(ENOENT))])]
#[case::truncate_follows_symlink(with(&[&file("/f", "hello")], &[
    (Symlink("/f", "/l"), n(0)),
    (Truncate("/l", 1), n(0)),
    (Cat("/f"), b("h")),
]))]
#[case::ftruncate(with(&[&file("/f", "hello")], &[
    (Open("/f", O_RDWR, 0), n(0)),
    (Ftruncate(0, 3), n(0)),
    (Fsize(0), n(3)),
    (Ftruncate(0, -1), e(EINVAL)),
    (Lseek(0, 0, SEEK_END), n(3)),
]))]
#[case::ftruncate_read_only(with(&[&file("/f", "hello")], &[
    (Open("/f", O_RDONLY, 0), n(0)),
    (Ftruncate(0, 0), e(EINVAL)),
    (Size("/f"), n(5)),
]))]
#[case::ftruncate_directory(vec![(Mkdir("/d"), n(0)), (Open("/d", O_RDONLY, 0), n(0)), (Ftruncate(0, 0), e(EINVAL))])]
#[case::ftruncate_bad_fd(vec![(Ftruncate(4, 0), e(EBADF))])]
fn truncate(#[case] script: Vec<(Op, Res)>) {
    on_tmpfs(&script);
}

// ----- stat, fstat, lstat ----------------------------------------------------

#[rstest]
#[case::regular_file(with(&[&file("/f", "hello")], &[
    (Size("/f"), n(5)),
    (Mode("/f"), n(FILE644)),
    (Nlink("/f"), n(1)),
    (Open("/f", O_RDONLY, 0), n(0)),
    (Fsize(0), n(5)),
]))]
#[case::directories_count_links(vec![
    (Nlink("/"), n(2)),
    (Mkdir("/a"), n(0)),
    (Mode("/a"), n((S_IFDIR | 0o755) as i64)),
    (Nlink("/"), n(3)),
    (Nlink("/a"), n(2)),
    (Mkdir("/a/b"), n(0)),
    (Nlink("/a"), n(3)),
    (Rmdir("/a/b"), n(0)),
    (Nlink("/a"), n(2)),
])]
#[case::lstat_sees_the_link(with(&[&file("/f", "hello")], &[
    (Symlink("/f", "/l"), n(0)),
    (Lmode("/l"), n((S_IFLNK | 0o777) as i64)),
    (Lsize("/l"), n(2)),
    (Mode("/l"), n(FILE644)),
    (Size("/l"), n(5)),
    (SameFile("/l", "/f"), n(1)),
]))]
#[case::dangling_symlink(vec![
    (Symlink("/nowhere", "/l"), n(0)),
    (Size("/l"), e(ENOENT)),
    (Lsize("/l"), n(8)),
])]
#[case::file_as_directory(with(&[&file("/f", "")], &[(Size("/f/x"), e(ENOTDIR)), (Size("/f/"), e(ENOTDIR))]))]
#[case::missing(vec![(Size("/x"), e(ENOENT)), (Lsize("/x"), e(ENOENT)), (Size(""), e(ENOENT))])]
#[case::fstat_bad_fd(vec![(Fsize(0), e(EBADF))])]
#[case::chmod(with(&[&file("/f", "")], &[
    (Chmod("/f", 0o600), n(0)),
    (Mode("/f"), n((S_IFREG | 0o600) as i64)),
    (Chmod("/f", 0o7777 | S_IFDIR), n(0)),
    (Mode("/f"), n((S_IFREG | 0o7777) as i64)),
    (Chmod("/x", 0o600), e(ENOENT)),
]))]
#[case::chmod_follows_symlinks(with(&[&file("/f", "")], &[
    (Symlink("/f", "/l"), n(0)),
    (Chmod("/l", 0o400), n(0)),
    (Mode("/f"), n((S_IFREG | 0o400) as i64)),
    (Lmode("/l"), n((S_IFLNK | 0o777) as i64)),
]))]
fn stat(#[case] script: Vec<(Op, Res)>) {
    on_tmpfs(&script);
}

// ----- mkdir, rmdir, unlink ------------------------------------------------

#[rstest]
#[case::mkdir_then_list(vec![(Mkdir("/a"), n(0)), (Mkdir("/a/b"), n(0)), (Ls("/a"), b(". .. b")), (Ls("/"), b(". .. a"))])]
#[case::mkdir_existing(vec![(Mkdir("/a"), n(0)), (Mkdir("/a"), e(EEXIST))])]
#[case::mkdir_over_file(with(&[&file("/f", "")], &[(Mkdir("/f"), e(EEXIST))]))]
#[case::mkdir_over_dangling_symlink(vec![(Symlink("/x", "/l"), n(0)), (Mkdir("/l"), e(EEXIST))])]
#[case::mkdir_root(vec![(Mkdir("/"), e(EEXIST))])]
#[case::mkdir_missing_parent(vec![(Mkdir("/a/b"), e(ENOENT))])]
#[case::mkdir_trailing_slash(vec![(Mkdir("/a/"), n(0)), (Mode("/a"), n((S_IFDIR | 0o755) as i64))])]
#[case::rmdir_non_empty(vec![(Mkdir("/a"), n(0)), (Mkdir("/a/b"), n(0)), (Rmdir("/a"), e(ENOTEMPTY))])]
#[case::rmdir_non_empty_with_file(with(&[&[(Mkdir("/a"), n(0))], &file("/a/f", "")], &[(Rmdir("/a"), e(ENOTEMPTY))]))]
#[case::rmdir_file(with(&[&file("/f", "")], &[(Rmdir("/f"), e(ENOTDIR))]))]
#[case::rmdir_symlink_to_dir(vec![(Mkdir("/a"), n(0)), (Symlink("/a", "/l"), n(0)), (Rmdir("/l"), e(ENOTDIR))])]
#[case::rmdir_missing(vec![(Rmdir("/a"), e(ENOENT))])]
#[case::rmdir_root(vec![(Rmdir("/"), e(EBUSY))])]
#[case::rmdir_dot(vec![(Mkdir("/a"), n(0)), (Rmdir("/a/."), e(EINVAL))])]
#[case::rmdir_dotdot(vec![(Mkdir("/a"), n(0)), (Rmdir("/a/.."), e(ENOTEMPTY))])]
#[case::rmdir_then_gone(vec![(Mkdir("/a"), n(0)), (Rmdir("/a"), n(0)), (Size("/a"), e(ENOENT)), (Ls("/"), b(". .."))])]
#[case::unlink_directory(vec![(Mkdir("/a"), n(0)), (Unlink("/a"), e(EISDIR))])]
#[case::unlink_missing(vec![(Unlink("/a"), e(ENOENT))])]
#[case::unlink_root(vec![(Unlink("/"), e(EISDIR))])]
#[case::unlink_file(with(&[&file("/f", "")], &[(Unlink("/f"), n(0)), (Size("/f"), e(ENOENT)), (Ls("/"), b(". .."))]))]
#[case::unlink_symlink_not_target(with(&[&file("/f", "x")], &[
    (Symlink("/f", "/l"), n(0)),
    (Unlink("/l"), n(0)),
    (Cat("/f"), b("x")),
]))]
#[case::unlink_trailing_slash_on_file(with(&[&file("/f", "")], &[(Unlink("/f/"), e(ENOTDIR))]))]
fn directories(#[case] script: Vec<(Op, Res)>) {
    on_tmpfs(&script);
}

// ----- rename ----------------------------------------------------------------

#[rstest]
#[case::simple(with(&[&file("/a", "A")], &[(Rename("/a", "/b"), n(0)), (Cat("/b"), b("A")), (Size("/a"), e(ENOENT))]))]
#[case::replaces_file(with(&[&file("/a", "A"), &file("/b", "BB")], &[
    (Rename("/a", "/b"), n(0)),
    (Cat("/b"), b("A")),
    (Ls("/"), b(". .. b")),
]))]
#[case::dir_over_empty_dir(vec![
    (Mkdir("/a"), n(0)), (Mkdir("/a/x"), n(0)), (Mkdir("/b"), n(0)),
    (Rename("/a", "/b"), n(0)),
    (Ls("/b"), b(". .. x")),
    (Nlink("/"), n(3)),
])]
#[case::dir_over_non_empty_dir(vec![
    (Mkdir("/a"), n(0)), (Mkdir("/b"), n(0)), (Mkdir("/b/x"), n(0)),
    (Rename("/a", "/b"), e(ENOTEMPTY)),
])]
#[case::file_over_dir(with(&[&file("/a", "")], &[(Mkdir("/b"), n(0)), (Rename("/a", "/b"), e(EISDIR))]))]
#[case::dir_over_file(with(&[&file("/b", "")], &[(Mkdir("/a"), n(0)), (Rename("/a", "/b"), e(ENOTDIR))]))]
#[case::dir_into_itself(vec![(Mkdir("/a"), n(0)), (Mkdir("/a/b"), n(0)), (Rename("/a", "/a/b/c"), e(EINVAL)), (Rename("/a", "/a/c"), e(EINVAL))])]
#[case::onto_own_ancestor(vec![(Mkdir("/a"), n(0)), (Mkdir("/a/b"), n(0)), (Rename("/a/b", "/a"), e(ENOTEMPTY))])]
#[case::hard_links_same_inode(with(&[&file("/a", "A")], &[
    (Link("/a", "/b"), n(0)),
    (Rename("/a", "/b"), n(0)),
    (Ls("/"), b(". .. a b")),
    (Nlink("/a"), n(2)),
]))]
#[case::onto_itself(with(&[&file("/a", "A")], &[(Rename("/a", "/a"), n(0)), (Cat("/a"), b("A"))]))]
#[case::missing_source(vec![(Rename("/a", "/b"), e(ENOENT))])]
#[case::missing_target_dir(with(&[&file("/a", "")], &[(Rename("/a", "/no/b"), e(ENOENT))]))]
#[case::moves_between_dirs(with(&[&[(Mkdir("/d"), n(0)), (Mkdir("/e"), n(0))], &file("/d/f", "F")], &[
    (Rename("/d/f", "/e/g"), n(0)),
    (Ls("/d"), b(". ..")),
    (Cat("/e/g"), b("F")),
]))]
#[case::moves_dir_updates_parent_links(vec![
    (Mkdir("/d"), n(0)), (Mkdir("/e"), n(0)), (Mkdir("/d/x"), n(0)),
    (Rename("/d/x", "/e/x"), n(0)),
    (Nlink("/d"), n(2)),
    (Nlink("/e"), n(3)),
    (Ls("/e/x/.."), b(". .. x")),
])]
#[case::symlink_renamed_not_target(with(&[&file("/f", "F")], &[
    (Symlink("/f", "/l"), n(0)),
    (Rename("/l", "/m"), n(0)),
    (Lmode("/m"), n((S_IFLNK | 0o777) as i64)),
    (Cat("/f"), b("F")),
]))]
#[case::root(vec![(Mkdir("/a"), n(0)), (Rename("/", "/a/b"), e(EBUSY))])]
#[case::trailing_slash_on_file(with(&[&file("/a", "")], &[(Rename("/a/", "/b"), e(ENOTDIR))]))]
#[case::open_file_survives_replacement(with(&[&file("/a", "A"), &file("/b", "B")], &[
    (Open("/b", O_RDONLY, 0), n(0)),
    (Rename("/a", "/b"), n(0)),
    (Read(0, 10), b("B")),
    (Fnlink(0), n(0)),
]))]
fn rename(#[case] script: Vec<(Op, Res)>) {
    on_tmpfs(&script);
}

// ----- link, symlink, readlink, ELOOP ----------------------------------------

#[rstest]
#[case::link_file(with(&[&file("/a", "A")], &[
    (Link("/a", "/b"), n(0)),
    (Nlink("/a"), n(2)),
    (SameFile("/a", "/b"), n(1)),
    (Unlink("/a"), n(0)),
    (Cat("/b"), b("A")),
    (Nlink("/b"), n(1)),
]))]
#[case::link_directory(vec![(Mkdir("/d"), n(0)), (Link("/d", "/e"), e(EPERM))])]
#[case::link_existing_name(with(&[&file("/a", ""), &file("/b", "")], &[(Link("/a", "/b"), e(EEXIST))]))]
#[case::link_missing(vec![(Link("/a", "/b"), e(ENOENT))])]
#[case::link_to_symlink_links_the_symlink(with(&[&file("/f", "")], &[
    (Symlink("/f", "/l"), n(0)),
    (Link("/l", "/m"), n(0)),
    (Lmode("/m"), n((S_IFLNK | 0o777) as i64)),
]))]
#[case::symlink_readlink(vec![(Symlink("some/where", "/l"), n(0)), (Readlink("/l"), b("some/where"))])]
#[case::symlink_existing(vec![(Mkdir("/d"), n(0)), (Symlink("/x", "/d"), e(EEXIST))])]
#[case::symlink_empty_target(vec![(Symlink("", "/l"), e(ENOENT))])]
#[case::readlink_file(with(&[&file("/f", "")], &[(Readlink("/f"), e(EINVAL))]))]
#[case::readlink_missing(vec![(Readlink("/x"), e(ENOENT))])]
#[case::relative_symlink(with(&[&[(Mkdir("/d"), n(0))], &file("/d/f", "F")], &[
    (Symlink("f", "/d/l"), n(0)),
    (Cat("/d/l"), b("F")),
    (Symlink("d/f", "/top"), n(0)),
    (Cat("/top"), b("F")),
    (Symlink("../d/f", "/d/up"), n(0)),
    (Cat("/d/up"), b("F")),
]))]
#[case::symlink_in_the_middle(with(&[&[(Mkdir("/d"), n(0))], &file("/d/f", "F")], &[
    (Symlink("/d", "/l"), n(0)),
    (Cat("/l/f"), b("F")),
    (Ls("/l"), b(". .. f")),
]))]
#[case::loop_of_two(vec![
    (Symlink("/b", "/a"), n(0)),
    (Symlink("/a", "/b"), n(0)),
    (Open("/a", O_RDONLY, 0), e(ELOOP)),
    (Size("/a/x"), e(ELOOP)),
    (Lsize("/a"), n(2)),
])]
#[case::loop_of_one(vec![(Symlink("/s", "/s"), n(0)), (Open("/s", CREATE, 0o644), e(ELOOP))])]
fn links(#[case] script: Vec<(Op, Res)>) {
    on_tmpfs(&script);
}

/// A chain of `links` symlinks ending at a file: Linux follows 40 and refuses
/// the 41st.
#[rstest]
#[case::forty_links_are_followed(40, Ok(0))]
#[case::forty_one_are_a_loop(41, Err(ELOOP))]
fn symlink_chain(#[case] links: usize, #[case] expected: Result<i32, Errno>) {
    let world = World::tmpfs();
    let sys = world.sys();
    let fd = sys.open(b"/l0", CREATE, 0o644).unwrap();
    sys.close(fd).unwrap();
    for i in 1..=links {
        let target = format!("/l{}", i - 1);
        let path = format!("/l{i}");
        sys.symlink(target.as_bytes(), path.as_bytes()).unwrap();
    }
    let result = sys.open(format!("/l{links}").as_bytes(), O_RDONLY, 0);
    assert_eq!(result, expected);
    if let Ok(fd) = result {
        sys.close(fd).unwrap();
    }
    world.finish();
}

// ----- getdents ----------------------------------------------------------------

#[test]
fn getdents_lists_entries_with_types() {
    let world = World::tmpfs();
    let sys = world.sys();
    sys.mkdir(b"/d", 0o755).unwrap();
    let fd = sys.open(b"/f", CREATE, 0o644).unwrap();
    sys.close(fd).unwrap();
    sys.symlink(b"/f", b"/l").unwrap();
    let dir = sys.open(b"/", O_RDONLY | O_DIRECTORY, 0).unwrap();
    let mut buf = vec![0u8; 4096];
    let len = sys.getdents(dir, &mut buf).unwrap();
    let mut entries = common::parse_dirents(&buf[..len]);
    entries.sort_by(|a, b| a.2.cmp(&b.2));
    let kinds: Vec<(u8, &[u8])> = entries.iter().map(|e| (e.1, e.2.as_slice())).collect();
    assert_eq!(
        kinds,
        [
            (DT_DIR, &b"."[..]),
            (DT_DIR, b".."),
            (DT_DIR, b"d"),
            (DT_REG, b"f"),
            (DT_LNK, b"l")
        ]
    );
    let f_ino = sys.stat(b"/f").unwrap().ino;
    assert!(
        entries.iter().any(|e| e.2 == b"f" && e.0 == f_ino),
        "d_ino of f is its st_ino"
    );
    assert_eq!(sys.getdents(dir, &mut buf), Ok(0), "end of directory");
    assert_eq!(sys.lseek(dir, 0, SEEK_SET), Ok(0));
    assert_eq!(sys.getdents(dir, &mut buf), Ok(len), "rewound");
    sys.close(dir).unwrap();
    world.finish();
}

#[test]
fn getdents_resumes_with_small_buffers() {
    let world = World::tmpfs();
    let sys = world.sys();
    let mut expected: Vec<Vec<u8>> = vec![b".".to_vec(), b"..".to_vec()];
    for i in 0..40 {
        let name = format!("file-with-a-longish-name-{i:02}");
        let fd = sys
            .open(format!("/{name}").as_bytes(), CREATE, 0o644)
            .unwrap();
        sys.close(fd).unwrap();
        expected.push(name.into_bytes());
    }
    expected.sort();
    let dir = sys.open(b"/", O_RDONLY, 0).unwrap();
    let mut names = Vec::new();
    // Room for about one record at a time.
    let mut buf = vec![0u8; 56];
    loop {
        let len = sys.getdents(dir, &mut buf).unwrap();
        if len == 0 {
            break;
        }
        names.extend(common::parse_dirents(&buf[..len]).into_iter().map(|e| e.2));
    }
    names.sort();
    assert_eq!(names, expected);
    sys.close(dir).unwrap();
    world.finish();
}

#[rstest]
#[case::on_a_file(false, 4096, Err(ENOTDIR))]
#[case::buffer_too_small(true, 8, Err(EINVAL))]
#[case::empty_buffer(true, 0, Err(EINVAL))]
fn getdents_errors(
    #[case] directory: bool,
    #[case] len: usize,
    #[case] expected: Result<usize, Errno>,
) {
    let world = World::tmpfs();
    let sys = world.sys();
    let fd = if directory {
        sys.open(b"/", O_RDONLY, 0).unwrap()
    } else {
        sys.open(b"/f", CREATE, 0o644).unwrap()
    };
    let mut buf = vec![0u8; len];
    assert_eq!(sys.getdents(fd, &mut buf), expected);
    assert_eq!(sys.getdents(fd + 1, &mut vec![0u8; 512]), Err(EBADF));
    sys.close(fd).unwrap();
    world.finish();
}

// ----- dup ------------------------------------------------------------------

#[rstest]
#[case::shares_offset(vec![
    (Open("/f", CREATE, 0o644), n(0)),
    (Write(0, "abcd"), n(4)),
    (Dup(0), n(1)),
    (Lseek(1, 1, SEEK_SET), n(1)),
    (Read(0, 2), b("bc")),
    (Lseek(1, 0, SEEK_CUR), n(3)),
])]
#[case::lowest_free(vec![
    (Open("/f", CREATE, 0o644), n(0)),
    (Open("/f", O_RDONLY, 0), n(1)),
    (Close(0), n(0)),
    (Dup(1), n(0)),
    (Dup(1), n(2)),
])]
#[case::outlives_original(vec![
    (Open("/f", CREATE, 0o644), n(0)),
    (Dup(0), n(1)),
    (Close(0), n(0)),
    (Write(1, "x"), n(1)),
    (Size("/f"), n(1)),
])]
#[case::keeps_access_mode(with(&[&file("/f", "x")], &[(Open("/f", O_RDONLY, 0), n(0)), (Dup(0), n(1)), (Write(1, "y"), e(EBADF))]))]
#[case::bad_fd(vec![(Dup(0), e(EBADF)), (Dup(-1), e(EBADF)), (Dup(1 << 20), e(EBADF))])]
fn dup(#[case] script: Vec<(Op, Res)>) {
    on_tmpfs(&script);
}

// ----- mount, unmount, EXDEV ---------------------------------------------------

#[rstest]
#[case::mount_and_unmount(vec![
    (Mkdir("/mnt"), n(0)),
    (Mount("tmpfs", "/mnt", ""), n(0)),
    (SameDev("/", "/mnt"), n(0)),
    (Open("/mnt/f", CREATE, 0o644), n(0)),
    (Write(0, "x"), n(1)),
    (Ls("/mnt"), b(". .. f")),
    (Unmount("/mnt", 0), e(EBUSY)),
    (Close(0), n(0)),
    (Unmount("/mnt", 0), n(0)),
    (Ls("/mnt"), b(". ..")),
    (SameDev("/", "/mnt"), n(1)),
])]
#[case::dotdot_leaves_the_mount(vec![
    (Mkdir("/mnt"), n(0)),
    (Mkdir("/other"), n(0)),
    (Mount("tmpfs", "/mnt", ""), n(0)),
    (Ls("/mnt/.."), b(". .. mnt other")),
    (Unmount("/mnt", 0), n(0)),
])]
#[case::unknown_type(vec![(Mkdir("/mnt"), n(0)), (Mount("nosuchfs", "/mnt", ""), e(ENODEV))])]
#[case::devfs_without_dev_faction(vec![(Mkdir("/dev"), n(0)), (Mount("devfs", "/dev", ""), e(ENODEV))])]
#[case::missing_target(vec![(Mount("tmpfs", "/mnt", ""), e(ENOENT))])]
#[case::file_target(with(&[&file("/f", "")], &[(Mount("tmpfs", "/f", ""), e(ENOTDIR))]))]
#[case::unmount_not_a_mount_point(vec![(Mkdir("/d"), n(0)), (Unmount("/d", 0), e(EINVAL))])]
#[case::unmount_missing(vec![(Unmount("/d", 0), e(ENOENT))])]
#[case::unmount_busy_with_submount(vec![
    (Mkdir("/a"), n(0)),
    (Mount("tmpfs", "/a", ""), n(0)),
    (Mkdir("/a/b"), n(0)),
    (Mount("tmpfs", "/a/b", ""), n(0)),
    (Unmount("/a", 0), e(EBUSY)),
    (Unmount("/", 0), e(EBUSY)),
    (Unmount("/a/b", 0), n(0)),
    (Unmount("/a", 0), n(0)),
])]
#[case::unmount_busy_with_cwd_free_open_dir(vec![
    (Mkdir("/a"), n(0)),
    (Mount("tmpfs", "/a", ""), n(0)),
    (Open("/a", O_RDONLY, 0), n(0)),
    (Unmount("/a", 0), e(EBUSY)),
    (Close(0), n(0)),
    (Unmount("/a", 0), n(0)),
])]
#[case::mount_point_is_busy(vec![
    (Mkdir("/a"), n(0)),
    (Mount("tmpfs", "/a", ""), n(0)),
    (Rmdir("/a"), e(EBUSY)),
    (Rename("/a", "/b"), e(EBUSY)),
    (Unmount("/a", 0), n(0)),
    (Rmdir("/a"), n(0)),
])]
#[case::exdev(with(&[&[(Mkdir("/m"), n(0)), (Mount("tmpfs", "/m", ""), n(0))], &file("/f", "F"), &file("/m/g", "G")], &[
    (Rename("/f", "/m/f"), e(EXDEV)),
    (Rename("/m/g", "/g"), e(EXDEV)),
    (Link("/f", "/m/f"), e(EXDEV)),
    (Link("/m/g", "/g"), e(EXDEV)),
    (Symlink("/f", "/m/l"), n(0)),
    (Cat("/m/l"), b("F")),
    (Unmount("/m", 0), n(0)),
]))]
fn mounts(#[case] script: Vec<(Op, Res)>) {
    on_tmpfs(&script);
}

#[test]
fn path_calls_before_root_is_mounted_are_enoent() {
    let world = World::boot(&[Faction::Vfs], &[tmpfs()]);
    let sys = world.sys();
    assert_eq!(sys.open(b"/f", CREATE, 0o644), Err(ENOENT));
    assert_eq!(sys.mkdir(b"/d", 0o755), Err(ENOENT));
    assert_eq!(sys.stat(b"/"), Err(ENOENT));
    assert_eq!(sys.mount(b"tmpfs", b"/mnt", 0, b""), Err(ENOENT));
    assert_eq!(sys.mount(b"tmpfs", b"/", 0, b""), Ok(()));
    assert_eq!(sys.mkdir(b"/d", 0o755), Ok(()));
    world.finish();
}

#[test]
fn tmpfs_without_its_component_is_enodev() {
    let world = World::boot(&[Faction::Vfs], &[]);
    assert_eq!(world.sys().mount(b"tmpfs", b"/", 0, b""), Err(ENODEV));
    world.finish();
}

#[test]
fn every_call_is_enosys_without_the_vfs_faction() {
    let world = World::boot(&[], &[]);
    let sys = world.sys();
    let mut buf = [0u8; 64];
    assert_eq!(sys.mount(b"tmpfs", b"/", 0, b""), Err(ENOSYS));
    assert_eq!(sys.unmount(b"/", 0), Err(ENOSYS));
    assert_eq!(sys.open(b"/f", CREATE, 0o644), Err(ENOSYS));
    assert_eq!(sys.close(0), Err(ENOSYS));
    assert_eq!(sys.read(0, &mut buf), Err(ENOSYS));
    assert_eq!(sys.write(0, b"x"), Err(ENOSYS));
    assert_eq!(sys.stat(b"/"), Err(ENOSYS));
    assert_eq!(sys.mkdir(b"/d", 0o755), Err(ENOSYS));
    assert_eq!(sys.rename(b"/a", b"/b"), Err(ENOSYS));
    assert_eq!(sys.getdents(0, &mut buf), Err(ENOSYS));
    assert_eq!(sys.dup(0), Err(ENOSYS));
    assert_eq!(sys.sync(), Err(ENOSYS));
    world.finish();
}

// ----- limits: EMFILE, ENOSPC, ENAMETOOLONG --------------------------------

#[test]
fn emfile_after_open_max_descriptors() {
    let world = World::tmpfs();
    let sys = world.sys();
    for fd in 0..rumpkit_kernel::syscall::OPEN_MAX as i32 {
        assert_eq!(sys.open(b"/f", CREATE, 0o644), Ok(fd));
    }
    assert_eq!(sys.open(b"/f", O_RDONLY, 0), Err(EMFILE));
    assert_eq!(sys.open(b"/g", CREATE, 0o644), Err(EMFILE));
    assert_eq!(
        sys.stat(b"/g"),
        Err(ENOENT),
        "a refused O_CREAT creates nothing"
    );
    assert_eq!(sys.dup(0), Err(EMFILE));
    sys.close(17).unwrap();
    assert_eq!(sys.dup(0), Ok(17));
    world.finish();
}

#[test]
fn enospc_on_a_size_limited_tmpfs() {
    let world = World::tmpfs_with_options(b"size=64K");
    let sys = world.sys();
    let fd = sys.open(b"/f", CREATE, 0o644).unwrap();
    let chunk = vec![0x5a; 4096];
    let mut total = 0usize;
    let errno = loop {
        match sys.write(fd, &chunk) {
            Ok(0) => panic!("write returned 0 instead of ENOSPC"),
            Ok(n) => total += n,
            Err(errno) => break errno,
        }
        assert!(
            total <= 64 * 1024,
            "wrote {total} bytes into a 64 KiB tmpfs"
        );
    };
    assert_eq!(errno, ENOSPC);
    assert!(
        total >= 32 * 1024,
        "only {total} bytes fit in a 64 KiB tmpfs"
    );
    assert_eq!(sys.fstat(fd).unwrap().size, total as i64);
    // Space comes back when the file goes.
    sys.close(fd).unwrap();
    sys.unlink(b"/f").unwrap();
    let fd = sys.open(b"/g", CREATE, 0o644).unwrap();
    assert_eq!(sys.write(fd, &chunk), Ok(4096));
    sys.close(fd).unwrap();
    world.finish();
}

#[test]
fn enospc_with_a_sparse_truncate_and_pwrite() {
    let world = World::tmpfs_with_options(b"size=64K");
    let sys = world.sys();
    let fd = sys.open(b"/f", CREATE, 0o644).unwrap();
    assert_eq!(sys.pwrite(fd, b"x", 1 << 30), Err(ENOSPC));
    assert_eq!(
        sys.fstat(fd).unwrap().size,
        0,
        "a failed write leaves the size"
    );
    sys.close(fd).unwrap();
    world.finish();
}

#[rstest]
#[case::name_max(255, Ok(0))]
#[case::name_too_long(256, Err(ENAMETOOLONG))]
fn name_length(#[case] len: usize, #[case] expected: Result<i32, Errno>) {
    let world = World::tmpfs();
    let sys = world.sys();
    let path = format!("/{}", "n".repeat(len));
    assert_eq!(sys.open(path.as_bytes(), CREATE, 0o644), expected);
    assert_eq!(
        sys.mkdir(path.as_bytes(), 0o755),
        Err(expected.err().unwrap_or(EEXIST))
    );
    world.finish();
}
