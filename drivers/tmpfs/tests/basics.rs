//! Quick checks of tmpfs through the typed system calls, on the host
//! platform: the main paths work, errnos are Linux's, and halt leaks nothing.

use std::sync::Arc;

use rumpkit_host::HostPlatform;
use rumpkit_kernel::syscall::abi::*;
use rumpkit_kernel::{BootConfig, Errno, Faction, Kernel, Pid};

fn boot() -> (Arc<Kernel>, Pid) {
    let platform = HostPlatform::new();
    let kernel = Kernel::boot(
        platform,
        &BootConfig {
            factions: &[Faction::Vfs],
            components: &[&rumpkit_tmpfs::COMPONENT],
            memory_limit_bytes: None,
        },
    )
    .expect("boot");
    let pid = kernel.proc_create().expect("proc");
    (kernel, pid)
}

fn halt_clean(kernel: Arc<Kernel>) {
    let report = kernel.halt().expect("halt");
    assert!(!report.leaked(), "leak at halt: {:?}", report.memory);
}

/// Reads every name `getdents` lists for `path`.
fn list(kernel: &Kernel, pid: Pid, path: &[u8]) -> Vec<Vec<u8>> {
    let sys = kernel.sys(pid);
    let fd = sys.open(path, O_RDONLY | O_DIRECTORY, 0).expect("open dir");
    let mut names = Vec::new();
    let mut buf = [0u8; 64];
    loop {
        let n = sys.getdents(fd, &mut buf).expect("getdents");
        if n == 0 {
            break;
        }
        let mut at = 0;
        while at < n {
            let reclen = u16::from_le_bytes([buf[at + 16], buf[at + 17]]) as usize;
            let name = &buf[at + 19..at + reclen];
            let end = name.iter().position(|b| *b == 0).unwrap();
            names.push(name[..end].to_vec());
            at += reclen;
        }
    }
    sys.close(fd).unwrap();
    names
}

#[test]
fn files_directories_and_names() {
    let (kernel, pid) = boot();
    let sys = kernel.sys(pid);
    assert_eq!(sys.open(b"/a", O_RDONLY, 0), Err(Errno::ENOENT));
    assert_eq!(sys.mount(b"nofs", b"/", 0, b""), Err(Errno::ENODEV));
    sys.mount(b"tmpfs", b"/", 0, b"").unwrap();

    let fd = sys.open(b"/f", O_CREAT | O_RDWR, 0o644).unwrap();
    assert_eq!(fd, 0);
    assert_eq!(sys.write(fd, b"hello world"), Ok(11));
    assert_eq!(sys.lseek(fd, 6, SEEK_SET), Ok(6));
    let mut buf = [0u8; 16];
    assert_eq!(sys.read(fd, &mut buf), Ok(5));
    assert_eq!(&buf[..5], b"world");
    let dup = sys.dup(fd).unwrap();
    assert_eq!(sys.lseek(dup, 0, SEEK_CUR), Ok(11), "dup shares the offset");
    assert_eq!(sys.pread(fd, &mut buf, 0), Ok(11));
    assert_eq!(sys.fstat(fd).unwrap().size, 11);

    assert_eq!(
        sys.open(b"/f", O_CREAT | O_EXCL | O_RDWR, 0),
        Err(Errno::EEXIST)
    );
    sys.mkdir(b"/d", 0o755).unwrap();
    assert_eq!(sys.mkdir(b"/d", 0o755), Err(Errno::EEXIST));
    assert_eq!(sys.open(b"/d", O_RDWR, 0), Err(Errno::EISDIR));
    assert_eq!(
        sys.open(b"/f", O_RDONLY | O_DIRECTORY, 0),
        Err(Errno::ENOTDIR)
    );
    assert_eq!(sys.open(b"/f/", O_RDONLY, 0), Err(Errno::ENOTDIR));
    assert_eq!(sys.stat(b"/d/../f").unwrap().size, 11);
    assert_eq!(sys.stat(b"/d").unwrap().mode & S_IFMT, S_IFDIR);

    sys.symlink(b"d", b"/l").unwrap();
    assert_eq!(sys.stat(b"/l").unwrap().mode & S_IFMT, S_IFDIR);
    assert_eq!(sys.lstat(b"/l").unwrap().mode & S_IFMT, S_IFLNK);
    let mut target = [0u8; 8];
    assert_eq!(sys.readlink(b"/l", &mut target), Ok(1));
    assert_eq!(sys.open(b"/l", O_RDONLY | O_NOFOLLOW, 0), Err(Errno::ELOOP));
    sys.symlink(b"loop", b"/loop").unwrap();
    assert_eq!(sys.stat(b"/loop"), Err(Errno::ELOOP));

    sys.rename(b"/f", b"/d/g").unwrap();
    assert_eq!(sys.stat(b"/f"), Err(Errno::ENOENT));
    assert_eq!(sys.rename(b"/d", b"/d/sub"), Err(Errno::EINVAL));
    sys.mkdir(b"/e", 0o755).unwrap();
    assert_eq!(sys.rename(b"/e", b"/d"), Err(Errno::ENOTEMPTY));
    assert_eq!(sys.rename(b"/d/g", b"/e"), Err(Errno::EISDIR));
    assert_eq!(sys.link(b"/d", b"/dlink"), Err(Errno::EPERM));
    sys.link(b"/d/g", b"/h").unwrap();
    assert_eq!(sys.stat(b"/h").unwrap().nlink, 2);

    assert_eq!(
        list(&kernel, pid, b"/"),
        vec![
            b".".to_vec(),
            b"..".to_vec(),
            b"d".to_vec(),
            b"e".to_vec(),
            b"h".to_vec(),
            b"l".to_vec(),
            b"loop".to_vec()
        ]
    );

    // Unlinked while open: the data stays readable until the last close.
    sys.unlink(b"/h").unwrap();
    sys.unlink(b"/d/g").unwrap();
    assert_eq!(sys.pread(dup, &mut buf, 0), Ok(11));
    assert_eq!(sys.rmdir(b"/d"), Ok(()));
    assert_eq!(sys.unmount(b"/", 0), Err(Errno::EBUSY));
    sys.close(fd).unwrap();
    sys.close(dup).unwrap();
    assert_eq!(sys.close(dup), Err(Errno::EBADF));
    halt_clean(kernel);
}

#[test]
fn size_limit_nested_mounts_and_limits() {
    let (kernel, pid) = boot();
    let sys = kernel.sys(pid);
    sys.mount(b"tmpfs", b"/", 0, b"").unwrap();
    sys.mkdir(b"/small", 0o755).unwrap();
    assert_eq!(
        sys.mount(b"tmpfs", b"/small", 0, b"size=bogus"),
        Err(Errno::EINVAL)
    );
    sys.mount(b"tmpfs", b"/small", 0, b"size=4K").unwrap();
    let fd = sys.open(b"/small/x", O_CREAT | O_WRONLY, 0o600).unwrap();
    assert_eq!(sys.write(fd, &[7u8; 3000]), Ok(3000));
    assert_eq!(
        sys.write(fd, &[7u8; 3000]),
        Ok(1096),
        "cut short at the limit"
    );
    assert_eq!(sys.write(fd, b"x"), Err(Errno::ENOSPC));
    assert_eq!(sys.rename(b"/small/x", b"/x"), Err(Errno::EXDEV));
    assert_eq!(sys.unmount(b"/small", 0), Err(Errno::EBUSY));
    assert_eq!(sys.unmount(b"/", 0), Err(Errno::EBUSY));
    assert_eq!(
        sys.stat(b"/small/..").unwrap().ino,
        sys.stat(b"/").unwrap().ino
    );
    sys.close(fd).unwrap();
    // Left mounted and with files: halt unmounts and frees everything.

    let mut fds = Vec::new();
    loop {
        match sys.open(b"/", O_RDONLY, 0) {
            Ok(fd) => fds.push(fd),
            Err(errno) => {
                assert_eq!(errno, Errno::EMFILE);
                break;
            }
        }
    }
    assert_eq!(fds.len(), 64);
    let long = vec![b'n'; 256];
    assert_eq!(sys.mkdir(&long, 0o755), Err(Errno::ENAMETOOLONG));
    assert_eq!(sys.mkdir(b"/a\0b", 0o755), Err(Errno::EINVAL));
    assert_eq!(sys.mkdir(b"", 0o755), Err(Errno::ENOENT));
    halt_clean(kernel);
}

#[test]
fn without_the_vfs_faction_calls_are_enosys() {
    let kernel = Kernel::boot(
        HostPlatform::new(),
        &BootConfig {
            factions: &[],
            components: &[],
            memory_limit_bytes: None,
        },
    )
    .unwrap();
    let pid = kernel.proc_create().unwrap();
    assert_eq!(kernel.sys(pid).open(b"/", O_RDONLY, 0), Err(Errno::ENOSYS));
    kernel.proc_destroy(pid).unwrap();
    halt_clean(kernel);
}

#[test]
fn modes_follow_linux_tmpfs() {
    let (kernel, pid) = boot();
    let sys = kernel.sys(pid);
    sys.mount(b"tmpfs", b"/", 0, b"").unwrap();
    // A fresh tmpfs root is sticky and world-writable, as on Linux.
    assert_eq!(sys.stat(b"/").unwrap().mode, S_IFDIR | 0o1777);
    // mkdir drops setuid and setgid from the requested mode.
    sys.mkdir(b"/m", 0o7777).unwrap();
    assert_eq!(sys.stat(b"/m").unwrap().mode, S_IFDIR | 0o1777);
    // chmod keeps them.
    sys.chmod(b"/m", 0o6755).unwrap();
    assert_eq!(sys.stat(b"/m").unwrap().mode, S_IFDIR | 0o6755);
    kernel.proc_destroy(pid).unwrap();
    halt_clean(kernel);
}

#[test]
fn access_mode_3_opens_but_neither_reads_nor_writes() {
    let (kernel, pid) = boot();
    let sys = kernel.sys(pid);
    sys.mount(b"tmpfs", b"/", 0, b"").unwrap();
    let fd = sys.open(b"/f", O_CREAT | O_ACCMODE, 0o644).unwrap();
    assert_eq!(sys.write(fd, b"x"), Err(Errno::EBADF));
    assert_eq!(sys.read(fd, &mut [0; 4]), Err(Errno::EBADF));
    assert_eq!(sys.ftruncate(fd, 0), Err(Errno::EINVAL));
    assert_eq!(sys.fstat(fd).map(|st| st.size), Ok(0));
    assert_eq!(sys.open(b"/", O_ACCMODE, 0), Err(Errno::EISDIR));
    sys.close(fd).unwrap();
    kernel.proc_destroy(pid).unwrap();
    halt_clean(kernel);
}
