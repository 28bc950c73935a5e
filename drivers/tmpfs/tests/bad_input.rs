//! Bad input gets an errno and nothing else: bad descriptors, bad flags,
//! over-long names and paths, NUL bytes in paths and bad user pointers, given
//! to the typed API and to the raw dispatcher. After each, a good call must
//! still succeed, and at the end the kernel must halt without a leak.

mod common;

use common::{raw_errno, World};
use rstest::rstest;
use rumpkit_kernel::syscall::abi::{nr, *};
use rumpkit_kernel::syscall::raw::{stat_from_linux, syscall_by_name, RW_MAX, STAT_SIZE, SYSCALLS};
use rumpkit_kernel::syscall::user::{MapError, UserSpace, USER_BASE, USER_END};
use rumpkit_kernel::{Errno, Errno::*};

/// A kernel with tmpfs on `/`, a user address space, and a file `/f` holding
/// `"hello"` open read-write on descriptor 0.
struct Raw {
    world: World,
    user: UserSpace,
}

impl Raw {
    fn new() -> Raw {
        let world = World::tmpfs();
        let mut raw = Raw {
            world,
            user: UserSpace::new(),
        };
        let path = raw.user.map_str(b"/f");
        assert_eq!(
            raw.call(nr::OPEN, [path, u64::from(O_CREAT | O_RDWR), 0o644]),
            0
        );
        let data = raw.user.map_bytes(b"hello", false);
        assert_eq!(raw.call(nr::WRITE, [0, data, 5]), 5);
        assert_eq!(raw.call(nr::LSEEK, [0, 0, u64::from(SEEK_SET)]), 0);
        raw
    }

    fn call(&mut self, number: u64, args: impl Into<Args>) -> i64 {
        let Args(args) = args.into();
        self.world
            .kernel
            .syscall_raw(self.world.pid, &mut self.user, number, args)
    }

    /// A good call after a bad one: the kernel must still work, and the file
    /// must be as it was.
    fn still_usable(&mut self) {
        let buf = self.user.map(16, true);
        assert_eq!(
            self.call(nr::PREAD64, [0, buf, 16, 0]),
            5,
            "pread after bad input"
        );
        assert_eq!(self.user.read(buf, 5).unwrap(), b"hello");
        let path = self.user.map_str(b"/g");
        let fd = self.call(nr::OPEN, [path, u64::from(O_CREAT | O_RDWR), 0o644]);
        assert!(fd > 0, "open after bad input gave {fd}");
        assert_eq!(self.call(nr::CLOSE, [fd as u64]), 0);
        assert_eq!(self.call(nr::UNLINK, [path]), 0);
    }

    fn finish(mut self) {
        self.still_usable();
        self.world.finish();
    }
}

/// Up to six arguments, zero-padded.
struct Args([u64; 6]);

impl<const N: usize> From<[u64; N]> for Args {
    fn from(given: [u64; N]) -> Args {
        let mut args = [0; 6];
        args[..N].copy_from_slice(&given);
        Args(args)
    }
}

fn err(errno: Errno) -> i64 {
    raw_errno(errno)
}

// ----- the user address space itself ------------------------------------------

#[test]
fn user_space_checks_every_byte() {
    let world = World::tmpfs();
    let alloc = world.kernel.alloc("test.user");
    let mut user = UserSpace::new();
    let rw = user.map(10, true);
    let ro = user.map_bytes(b"abc", false);
    assert!(rw >= USER_BASE && rw.is_multiple_of(4096));
    assert!(ro >= rw + 4096 + 4096, "a guard page separates mappings");
    let mut buf = [0u8; 10];
    assert_eq!(user.copy_in(rw, &mut buf), Ok(()));
    assert_eq!(
        user.copy_in(rw + 1, &mut buf),
        Err(EFAULT),
        "straddles the end"
    );
    assert_eq!(user.copy_in(0, &mut buf), Err(EFAULT), "NULL");
    assert_eq!(
        user.copy_in(0, &mut []),
        Ok(()),
        "an empty copy never faults"
    );
    assert_eq!(user.copy_out(ro, b"x"), Err(EFAULT), "read-only");
    assert_eq!(
        user.read(ro, 3).unwrap(),
        b"abc",
        "a failed copy changes nothing"
    );
    assert_eq!(user.copy_out(rw + 8, b"xyz"), Err(EFAULT));
    assert_eq!(
        user.read(rw + 8, 2).unwrap(),
        [0, 0],
        "nothing partly written"
    );
    assert_eq!(
        user.copy_out(u64::MAX - 1, b"xyz"),
        Err(EFAULT),
        "wraps around"
    );
    // "abc" has no NUL in its mapping: the string runs into the guard page.
    assert_eq!(user.copy_in_str(ro, 4096, &alloc).err(), Some(EFAULT));
    assert_eq!(user.copy_in_str(ro, 3, &alloc).err(), Some(ENAMETOOLONG));
    let terminated = user.map_str(b"abc");
    assert_eq!(
        user.copy_in_str(terminated, 4, &alloc).unwrap().as_slice(),
        b"abc"
    );
    assert_eq!(
        user.copy_in_str(terminated, 3, &alloc).err(),
        Some(ENAMETOOLONG)
    );
    assert_eq!(user.copy_in_str(0, 4096, &alloc).err(), Some(EFAULT));
    // Regions that touch form one range.
    let a = user.map_at(0x7000_0000, 4, true).unwrap();
    user.map_at(a + 4, 4, false).unwrap();
    user.write(a, b"12345678").unwrap();
    assert_eq!(user.read(a, 8).unwrap(), b"12345678");
    assert_eq!(
        user.copy_out(a, b"12345"),
        Err(EFAULT),
        "the second half is read-only"
    );
    assert_eq!(user.map_at(a + 2, 4, true), Err(MapError::Overlaps));
    assert_eq!(user.map_at(0, 4, true), Err(MapError::OutOfRange));
    assert_eq!(
        user.map_at(USER_END - 2, 4, true),
        Err(MapError::OutOfRange)
    );
    assert_eq!(user.mapped_prefix(a, 100, false), 8);
    assert_eq!(user.mapped_prefix(a, 100, true), 4);
    assert!(user.unmap(a));
    assert_eq!(user.copy_in(a, &mut buf[..1]), Err(EFAULT));
    drop(alloc);
    world.finish();
}

#[test]
fn syscall_table_is_consistent() {
    assert_eq!(SYSCALLS.len(), 26);
    for pair in SYSCALLS.windows(2) {
        assert!(pair[0].number < pair[1].number, "table in number order");
    }
    assert_eq!(
        syscall_by_name("getdents64").unwrap().number,
        nr::GETDENTS64
    );
    assert_eq!(syscall_by_name("open").unwrap().number, 2);
    for info in SYSCALLS {
        assert!(info.args.len() <= 6, "{}", info.name);
    }
}

// ----- bad descriptors ----------------------------------------------------------

#[rstest]
fn bad_descriptors(
    #[values(u64::MAX, 1, 63, 64, 1000, 0x1_0000_0005, i32::MIN as u32 as u64)] fd: u64,
    #[values(
        "read",
        "write",
        "close",
        "fstat",
        "lseek",
        "pread64",
        "pwrite64",
        "dup",
        "fsync",
        "ftruncate",
        "getdents64"
    )]
    call: &str,
) {
    let mut raw = Raw::new();
    let buf = raw.user.map(4096, true);
    let number = syscall_by_name(call).unwrap().number;
    let args = match call {
        "read" | "write" | "getdents64" => [fd, buf, 16, 0],
        "pread64" | "pwrite64" => [fd, buf, 16, 0],
        "fstat" => [fd, buf, 0, 0],
        _ => [fd, 0, 0, 0],
    };
    assert_eq!(raw.call(number, args), err(EBADF), "{call}({fd:#x})");
    // A bad descriptor goes before a bad pointer, as on Linux.
    if matches!(
        call,
        "read" | "write" | "pread64" | "pwrite64" | "getdents64"
    ) {
        assert_eq!(
            raw.call(number, [fd, 0, 16, 0]),
            err(EBADF),
            "{call}({fd:#x}, NULL)"
        );
        assert_eq!(
            raw.call(number, [fd, buf, u64::MAX, 0]),
            err(EBADF),
            "{call}({fd:#x}, huge)"
        );
    }
    raw.finish();
}

#[test]
fn descriptor_is_an_int() {
    // The upper half of the register is not part of an `int` argument.
    let mut raw = Raw::new();
    let buf = raw.user.map(16, true);
    assert_eq!(raw.call(nr::READ, [1 << 32, buf, 16]), 5);
    raw.finish();
}

#[test]
fn wrong_kind_of_descriptor() {
    let mut raw = Raw::new();
    let root = raw.user.map_str(b"/");
    assert_eq!(raw.call(nr::OPEN, [root, u64::from(O_RDONLY)]), 1);
    let buf = raw.user.map(4096, true);
    assert_eq!(raw.call(nr::READ, [1, buf, 16]), err(EISDIR));
    assert_eq!(raw.call(nr::WRITE, [1, buf, 16]), err(EBADF));
    assert_eq!(raw.call(nr::GETDENTS64, [0, buf, 4096]), err(ENOTDIR));
    assert_eq!(raw.call(nr::FTRUNCATE, [1, 0]), err(EINVAL));
    raw.finish();
}

// ----- bad flags and numbers ------------------------------------------------------

#[rstest]
#[case::unknown_number(9999, [0; 6], ENOSYS)]
#[case::huge_number(u64::MAX, [0; 6], ENOSYS)]
#[case::getpid_is_not_here(39, [0; 6], ENOSYS)]
#[case::lseek_whence_5(nr::LSEEK, [0, 0, 5, 0, 0, 0], EINVAL)]
#[case::lseek_whence_huge(nr::LSEEK, [0, 0, u64::from(u32::MAX), 0, 0, 0], EINVAL)]
#[case::lseek_negative(nr::LSEEK, [0, (-1i64) as u64, 0, 0, 0, 0], EINVAL)]
#[case::pread_negative(nr::PREAD64, [0, 0, 0, (-1i64) as u64, 0, 0], EINVAL)]
#[case::ftruncate_negative(nr::FTRUNCATE, [0, (-5i64) as u64, 0, 0, 0, 0], EINVAL)]
fn bad_numbers_and_flags(#[case] number: u64, #[case] args: [u64; 6], #[case] errno: Errno) {
    let mut raw = Raw::new();
    assert_eq!(raw.call(number, args), err(errno));
    raw.finish();
}

#[rstest]
#[case::umount2_unknown_flag(0x80, EINVAL)]
#[case::umount2_detach_refused(u64::from(MNT_DETACH), EINVAL)]
fn bad_umount_flags(#[case] flags: u64, #[case] errno: Errno) {
    let mut raw = Raw::new();
    let d = raw.user.map_str(b"/d");
    assert_eq!(raw.call(nr::MKDIR, [d, 0o755]), 0);
    let tmpfs = raw.user.map_str(b"tmpfs");
    assert_eq!(raw.call(nr::MOUNT, [0, d, tmpfs, 0, 0]), 0);
    assert_eq!(raw.call(nr::UMOUNT2, [d, flags]), err(errno));
    assert_eq!(raw.call(nr::UMOUNT2, [d, 0]), 0);
    raw.finish();
}

#[test]
fn bad_mount_arguments() {
    let mut raw = Raw::new();
    let d = raw.user.map_str(b"/d");
    assert_eq!(raw.call(nr::MKDIR, [d, 0o755]), 0);
    let tmpfs = raw.user.map_str(b"tmpfs");
    let nosuch = raw.user.map_str(b"nosuchfs");
    let bad_options = raw.user.map_str(b"colour=blue");
    assert_eq!(
        raw.call(nr::MOUNT, [0, d, 0, 0, 0]),
        err(EINVAL),
        "NULL type"
    );
    assert_eq!(raw.call(nr::MOUNT, [0, d, nosuch, 0, 0]), err(ENODEV));
    assert_eq!(
        raw.call(nr::MOUNT, [0, d, tmpfs, 1 << 40, 0]),
        err(EINVAL),
        "flags beyond 32 bits"
    );
    assert_eq!(
        raw.call(nr::MOUNT, [0, d, tmpfs, 0, bad_options]),
        err(EINVAL)
    );
    assert_eq!(
        raw.call(nr::MOUNT, [0xdead_0000, d, tmpfs, 0, 0]),
        err(EFAULT)
    );
    assert_eq!(
        raw.call(nr::MOUNT, [0, d, tmpfs, 0, 0xdead_0000]),
        err(EFAULT)
    );
    assert_eq!(raw.call(nr::MOUNT, [0, 0, tmpfs, 0, 0]), err(EFAULT));
    assert_eq!(raw.call(nr::MOUNT, [0, d, 0xdead_0000, 0, 0]), err(EFAULT));
    // Linux's way of passing tmpfs options works too.
    let options = raw.user.map_str(b"size=64K");
    assert_eq!(raw.call(nr::MOUNT, [tmpfs, d, tmpfs, 0, options]), 0);
    assert_eq!(raw.call(nr::UMOUNT2, [d, 0]), 0);
    raw.finish();
}

#[test]
fn readlink_bad_sizes() {
    let mut raw = Raw::new();
    let target = raw.user.map_str(b"/f");
    let link = raw.user.map_str(b"/l");
    assert_eq!(raw.call(nr::SYMLINK, [target, link]), 0);
    let buf = raw.user.map(64, true);
    assert_eq!(raw.call(nr::READLINK, [link, buf, 0]), err(EINVAL));
    assert_eq!(
        raw.call(nr::READLINK, [link, buf, u64::from(u32::MAX)]),
        err(EINVAL),
        "-1 as an int"
    );
    assert_eq!(raw.call(nr::READLINK, [link, buf, 1]), 1, "truncated");
    assert_eq!(raw.call(nr::READLINK, [link, buf, 64]), 2);
    assert_eq!(raw.user.read(buf, 2).unwrap(), b"/f");
    raw.finish();
}

#[test]
fn typed_api_rejects_bad_flags_and_arguments() {
    let world = World::tmpfs();
    let sys = world.sys();
    let fd = sys.open(b"/f", O_CREAT | O_RDWR, 0o644).unwrap();
    assert_eq!(sys.lseek(fd, 0, 5), Err(EINVAL));
    assert_eq!(sys.unmount(b"/", 0x4000_0000), Err(EINVAL));
    assert_eq!(sys.readlink(b"/f", &mut []), Err(EINVAL));
    assert_eq!(sys.getdents(fd, &mut []), Err(ENOTDIR));
    assert_eq!(sys.pread(fd, &mut [0; 4], i64::MIN), Err(EINVAL));
    assert_eq!(sys.truncate(b"/f", i64::MIN), Err(EINVAL));
    assert_eq!(sys.write(fd, b"ok"), Ok(2));
    sys.close(fd).unwrap();
    world.finish();
}

// ----- over-long names and paths, NUL bytes ------------------------------------

#[rstest]
#[case::component_too_long(format!("/{}", "x".repeat(256)), ENAMETOOLONG)]
#[case::middle_component_too_long(format!("/{}/f", "x".repeat(256)), ENAMETOOLONG)]
#[case::path_max(format!("/{}", "a/".repeat(2048)), ENAMETOOLONG)]
#[case::far_too_long(format!("/{}", "a".repeat(100_000)), ENAMETOOLONG)]
#[case::nul_inside(String::from("/f\0g"), EINVAL)]
#[case::nul_only(String::from("\0"), EINVAL)]
#[case::empty(String::new(), ENOENT)]
fn bad_paths_typed(#[case] path: String, #[case] errno: Errno) {
    let world = World::tmpfs();
    let sys = world.sys();
    let path = path.as_bytes();
    assert_eq!(sys.open(path, O_CREAT | O_RDWR, 0o644), Err(errno), "open");
    assert_eq!(sys.mkdir(path, 0o755), Err(errno), "mkdir");
    assert_eq!(sys.stat(path).err(), Some(errno), "stat");
    assert_eq!(sys.unlink(path), Err(errno), "unlink");
    assert_eq!(sys.rename(path, b"/x"), Err(errno), "rename from");
    assert_eq!(sys.symlink(b"/x", path), Err(errno), "symlink");
    assert_eq!(sys.link(path, b"/x"), Err(errno), "link");
    assert_eq!(sys.truncate(path, 0), Err(errno), "truncate");
    assert_eq!(sys.mount(b"tmpfs", path, 0, b""), Err(errno), "mount");
    assert_eq!(
        common::list_dir(&sys, b"/").unwrap(),
        [&b"."[..], b".."],
        "nothing was made"
    );
    let fd = sys.open(b"/ok", O_CREAT | O_RDWR, 0o644).unwrap();
    sys.close(fd).unwrap();
    world.finish();
}

#[test]
fn symlink_target_too_long() {
    let world = World::tmpfs();
    let sys = world.sys();
    let target = "t".repeat(4096);
    assert_eq!(sys.symlink(target.as_bytes(), b"/l"), Err(ENAMETOOLONG));
    assert_eq!(sys.symlink(b"/a\0b", b"/l"), Err(EINVAL));
    assert_eq!(sys.lstat(b"/l").err(), Some(ENOENT));
    world.finish();
}

#[test]
fn raw_paths_are_c_strings() {
    let mut raw = Raw::new();
    // Everything after the NUL is not part of the path.
    let path = raw.user.map_bytes(b"/g\0junk", false);
    assert_eq!(
        raw.call(nr::OPEN, [path, u64::from(O_CREAT | O_RDWR), 0o644]),
        1
    );
    assert_eq!(raw.call(nr::CLOSE, [1]), 0);
    let g = raw.user.map_str(b"/g");
    assert_eq!(raw.call(nr::UNLINK, [g]), 0);
    // The longest path Linux takes is PATH_MAX - 1 bytes; the NUL must fit
    // within PATH_MAX.
    let mut longest = vec![b'/'; PATH_MAX - 2];
    longest.push(b'f');
    let ok = raw.user.map_str(&longest);
    let buf = raw.user.map(STAT_SIZE, true);
    assert_eq!(raw.call(nr::STAT, [ok, buf]), 0);
    let mut too_long = longest.clone();
    too_long.insert(0, b'/');
    let too_long = raw.user.map_str(&too_long);
    assert_eq!(raw.call(nr::STAT, [too_long, buf]), err(ENAMETOOLONG));
    let empty = raw.user.map_str(b"");
    assert_eq!(raw.call(nr::STAT, [empty, buf]), err(ENOENT));
    let long_name = raw.user.map_str(format!("/{}", "x".repeat(256)).as_bytes());
    assert_eq!(raw.call(nr::MKDIR, [long_name, 0o755]), err(ENAMETOOLONG));
    raw.finish();
}

// ----- bad user pointers --------------------------------------------------------

/// Where a bad pointer points.
#[derive(Debug, Clone, Copy)]
enum Bad {
    Null,
    Unmapped,
    /// The last byte of a mapping (the range runs past it).
    Straddling,
    /// A read-only mapping (bad only for what the kernel writes).
    ReadOnly,
    /// Near the top of the address space (the range wraps or leaves user
    /// space).
    Top,
}

impl Bad {
    fn place(self, user: &mut UserSpace) -> u64 {
        match self {
            Bad::Null => 0,
            Bad::Unmapped => 0xdead_b000,
            Bad::Straddling => user.map_bytes(b"/", false),
            Bad::ReadOnly => user.map_bytes(&[0x2f; 4096], false),
            Bad::Top => u64::MAX - 3,
        }
    }
}

#[rstest]
fn bad_path_pointers(
    #[values(Bad::Null, Bad::Unmapped, Bad::Straddling, Bad::Top)] bad: Bad,
    #[values(
        "open", "stat", "lstat", "truncate", "mkdir", "rmdir", "unlink", "chmod", "readlink",
        "umount2", "rename", "link", "symlink"
    )]
    call: &str,
) {
    let mut raw = Raw::new();
    let ptr = bad.place(&mut raw.user);
    let good = raw.user.map_str(b"/f");
    let out = raw.user.map(4096, true);
    let number = syscall_by_name(call).unwrap().number;
    let args = match call {
        "stat" | "lstat" => [ptr, out, 0],
        "readlink" => [ptr, out, 64],
        "rename" | "link" | "symlink" => [ptr, good, 0],
        "open" => [ptr, u64::from(O_RDONLY), 0],
        _ => [ptr, 0, 0],
    };
    assert_eq!(raw.call(number, args), err(EFAULT), "{call} with {bad:?}");
    if matches!(call, "rename" | "link" | "symlink") {
        assert_eq!(
            raw.call(number, [good, ptr, 0]),
            err(EFAULT),
            "{call} second path {bad:?}"
        );
    }
    raw.finish();
}

#[rstest]
fn bad_buffers_for_output(
    #[values(Bad::Null, Bad::Unmapped, Bad::ReadOnly, Bad::Top)] bad: Bad,
    #[values("read", "pread64", "fstat", "stat", "lstat", "readlink", "getdents64")] call: &str,
) {
    let mut raw = Raw::new();
    let ptr = bad.place(&mut raw.user);
    let f = raw.user.map_str(b"/f");
    let l = raw.user.map_str(b"/l");
    let root = raw.user.map_str(b"/");
    assert_eq!(raw.call(nr::SYMLINK, [f, l]), 0);
    let dir = raw.call(nr::OPEN, [root, u64::from(O_RDONLY | O_DIRECTORY)]);
    assert_eq!(dir, 1);
    let number = syscall_by_name(call).unwrap().number;
    let args = match call {
        "read" => [0, ptr, 4, 0],
        "pread64" => [0, ptr, 4, 1],
        "fstat" => [0, ptr, 0, 0],
        "stat" => [f, ptr, 0, 0],
        "lstat" => [l, ptr, 0, 0],
        "readlink" => [l, ptr, 64, 0],
        "getdents64" => [1, ptr, 1024, 0],
        _ => unreachable!(),
    };
    assert_eq!(raw.call(number, args), err(EFAULT), "{call} into {bad:?}");
    // Nothing was consumed: the file offset did not move, and the directory
    // still lists from its start.
    assert_eq!(raw.call(nr::LSEEK, [0, 0, u64::from(SEEK_CUR)]), 0);
    let buf = raw.user.map(4096, true);
    let listed = raw.call(nr::GETDENTS64, [1, buf, 4096]);
    assert!(listed > 0);
    let names: Vec<Vec<u8>> = common::parse_dirents(&raw.user.read(buf, listed as usize).unwrap())
        .into_iter()
        .map(|e| e.2)
        .collect();
    assert!(
        names.contains(&b".".to_vec()) && names.contains(&b"f".to_vec()),
        "{names:?}"
    );
    assert_eq!(raw.call(nr::CLOSE, [1]), 0);
    raw.finish();
}

#[rstest]
fn bad_buffers_for_input(
    #[values(Bad::Null, Bad::Unmapped, Bad::Top)] bad: Bad,
    #[values("write", "pwrite64")] call: &str,
) {
    let mut raw = Raw::new();
    let ptr = bad.place(&mut raw.user);
    let number = syscall_by_name(call).unwrap().number;
    assert_eq!(
        raw.call(number, [0, ptr, 4, 0]),
        err(EFAULT),
        "{call} from {bad:?}"
    );
    let st = raw.user.map(STAT_SIZE, true);
    assert_eq!(raw.call(nr::FSTAT, [0, st]), 0);
    let stat = stat_from_linux(&raw.user.read(st, STAT_SIZE).unwrap().try_into().unwrap());
    assert_eq!(stat.size, 5, "nothing was written");
    raw.finish();
}

#[test]
fn huge_lengths() {
    let mut raw = Raw::new();
    let small = raw.user.map(16, true);
    // Beyond the user half of the address space: EFAULT, as Linux's access_ok.
    assert_eq!(raw.call(nr::READ, [0, small, u64::MAX]), err(EFAULT));
    assert_eq!(raw.call(nr::WRITE, [0, small, u64::MAX]), err(EFAULT));
    assert_eq!(raw.call(nr::PREAD64, [0, small, 1 << 63, 0]), err(EFAULT));
    assert_eq!(
        raw.call(nr::GETDENTS64, [0, small, u64::from(u32::MAX)]),
        err(ENOTDIR)
    );
    // Within it, a read fills what is mapped and a write takes what is
    // mapped: a short count, as when a copy faults part way on Linux.
    assert_eq!(raw.call(nr::READ, [0, small, 1 << 40]), 5);
    assert_eq!(raw.call(nr::LSEEK, [0, 0, u64::from(SEEK_SET)]), 0);
    let page = raw.user.map_bytes(&[b'z'; 100], false);
    assert_eq!(raw.call(nr::PWRITE64, [0, page, 1 << 40, 0]), 100);
    assert_eq!(raw.call(nr::PWRITE64, [0, page, 5, 0]), 5);
    // One call moves at most RW_MAX bytes.
    let big = raw.user.map(RW_MAX + 4096, true);
    assert_eq!(
        raw.call(nr::PWRITE64, [0, big, (RW_MAX + 4096) as u64, 0]),
        RW_MAX as i64
    );
    assert_eq!(
        raw.call(nr::PREAD64, [0, big, (RW_MAX + 4096) as u64, 0]),
        RW_MAX as i64
    );
    assert_eq!(raw.call(nr::FTRUNCATE, [0, 0]), 0);
    let hello = raw.user.map_bytes(b"hello", false);
    assert_eq!(raw.call(nr::WRITE, [0, hello, 5]), 5);
    raw.finish();
}

#[test]
fn straddling_buffers() {
    let mut raw = Raw::new();
    // A 100-byte mapping cannot take a 144-byte struct stat.
    let short = raw.user.map(100, true);
    assert_eq!(raw.call(nr::FSTAT, [0, short]), err(EFAULT));
    // A read into the last 2 bytes of a mapping gets 2 bytes.
    let buf = raw.user.map(8, true);
    assert_eq!(raw.call(nr::READ, [0, buf + 6, 5]), 2);
    assert_eq!(raw.user.read(buf + 6, 2).unwrap(), b"he");
    assert_eq!(raw.call(nr::LSEEK, [0, 0, u64::from(SEEK_CUR)]), 2);
    assert_eq!(raw.call(nr::LSEEK, [0, 0, u64::from(SEEK_SET)]), 0);
    raw.finish();
}

#[test]
fn raw_stat_layout() {
    let mut raw = Raw::new();
    let buf = raw.user.map(STAT_SIZE + 8, true);
    raw.user.write(buf + STAT_SIZE as u64, &[0xee; 8]).unwrap();
    let f = raw.user.map_str(b"/f");
    assert_eq!(raw.call(nr::STAT, [f, buf]), 0);
    let bytes = raw.user.read(buf, STAT_SIZE + 8).unwrap();
    assert_eq!(&bytes[STAT_SIZE..], [0xee; 8], "exactly 144 bytes written");
    let typed = raw.world.sys().stat(b"/f").unwrap();
    let decoded = stat_from_linux(&bytes[..STAT_SIZE].try_into().unwrap());
    assert_eq!(decoded.ino, typed.ino);
    assert_eq!(decoded.mode, S_IFREG | 0o644);
    assert_eq!(decoded.size, 5);
    assert_eq!(decoded.nlink, 1);
    assert_eq!(decoded.mtime_ns, typed.mtime_ns);
    // Field offsets of Linux x86-64's struct stat.
    assert_eq!(
        u64::from_le_bytes(bytes[8..16].try_into().unwrap()),
        typed.ino
    );
    assert_eq!(
        u64::from_le_bytes(bytes[16..24].try_into().unwrap()),
        1,
        "st_nlink"
    );
    assert_eq!(
        u32::from_le_bytes(bytes[24..28].try_into().unwrap()),
        S_IFREG | 0o644
    );
    assert_eq!(
        i64::from_le_bytes(bytes[48..56].try_into().unwrap()),
        5,
        "st_size"
    );
    let nsec = i64::from_le_bytes(bytes[96..104].try_into().unwrap());
    assert!((0..1_000_000_000).contains(&nsec), "st_mtim.tv_nsec");
    raw.finish();
}

#[test]
fn raw_calls_without_vfs_are_enosys_before_pointers_are_read() {
    let world = World::boot(&[], &[]);
    let mut user = UserSpace::new();
    for info in SYSCALLS {
        let result = world
            .kernel
            .syscall_raw(world.pid, &mut user, info.number, [0; 6]);
        assert_eq!(result, err(ENOSYS), "{}", info.name);
    }
    world.finish();
}

#[test]
fn raw_calls_for_a_missing_process_are_esrch() {
    let mut raw = Raw::new();
    let f = raw.user.map_str(b"/f");
    let kernel = raw.world.kernel.clone();
    let ghost = kernel.proc_create().unwrap();
    kernel.proc_destroy(ghost).unwrap();
    assert_eq!(
        kernel.syscall_raw(ghost, &mut raw.user, nr::OPEN, [f, 0, 0, 0, 0, 0]),
        err(ESRCH)
    );
    drop(kernel);
    raw.finish();
}

#[test]
fn a_raw_session_end_to_end() {
    let mut raw = Raw::new();
    let d = raw.user.map_str(b"/d");
    let df = raw.user.map_str(b"/d/f");
    let dg = raw.user.map_str(b"/d/g");
    assert_eq!(raw.call(nr::MKDIR, [d, 0o700]), 0);
    let f = raw.user.map_str(b"/f");
    assert_eq!(raw.call(nr::RENAME, [f, df]), 0);
    assert_eq!(raw.call(nr::LINK, [df, dg]), 0);
    assert_eq!(raw.call(nr::CHMOD, [dg, 0o600]), 0);
    let fd = raw.call(nr::OPEN, [d, u64::from(O_RDONLY | O_DIRECTORY)]);
    assert_eq!(fd, 1);
    let buf = raw.user.map(4096, true);
    let len = raw.call(nr::GETDENTS64, [1, buf, 4096]);
    let mut names: Vec<Vec<u8>> = common::parse_dirents(&raw.user.read(buf, len as usize).unwrap())
        .into_iter()
        .map(|e| e.2)
        .collect();
    names.sort();
    assert_eq!(names, [&b"."[..], b"..", b"f", b"g"]);
    assert_eq!(raw.call(nr::GETDENTS64, [1, buf, 4096]), 0);
    assert_eq!(raw.call(nr::DUP, [1]), 2);
    assert_eq!(raw.call(nr::CLOSE, [2]), 0);
    assert_eq!(raw.call(nr::CLOSE, [1]), 0);
    assert_eq!(raw.call(nr::TRUNCATE, [dg, 2]), 0);
    assert_eq!(raw.call(nr::PREAD64, [0, buf, 100, 0]), 2);
    assert_eq!(raw.call(nr::FSYNC, [0]), 0);
    assert_eq!(raw.call(nr::SYNC, []), 0);
    assert_eq!(raw.call(nr::UNLINK, [dg]), 0);
    assert_eq!(raw.call(nr::RMDIR, [d]), err(ENOTEMPTY));
    // The file is open as descriptor 0 under its new name; put it back for
    // the final check.
    assert_eq!(raw.call(nr::RENAME, [df, f]), 0);
    assert_eq!(raw.call(nr::RMDIR, [d]), 0);
    let hello = raw.user.map_bytes(b"hello", false);
    assert_eq!(raw.call(nr::PWRITE64, [0, hello, 5, 0]), 5);
    raw.finish();
}
