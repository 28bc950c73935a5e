//! Helpers shared by the vfs test suites (`vfs_posix`, `bad_input`, …): boot
//! a kernel on the host platform with the vfs faction and tmpfs, make a
//! process, and at the end halt the kernel and insist that no kernel memory
//! leaked.
#![allow(dead_code)]

use std::sync::Arc;

use rumpkit_host::HostPlatform;
use rumpkit_kernel::hypercall::Hypercalls;
use rumpkit_kernel::{BootConfig, Component, Errno, Faction, Kernel, Pid, Sys};

/// The tmpfs component, as a kernel's boot list wants it.
pub fn tmpfs() -> &'static dyn Component {
    &rumpkit_tmpfs::COMPONENT
}

/// A booted kernel, one process in it, and the platform under it.
pub struct World {
    pub host: Arc<HostPlatform>,
    pub kernel: Arc<Kernel>,
    pub pid: Pid,
}

impl World {
    /// Boots `factions` with `components`; mounts nothing.
    pub fn boot(factions: &[Faction], components: &[&'static dyn Component]) -> World {
        let host = HostPlatform::new();
        let platform: Arc<dyn Hypercalls> = host.clone();
        let kernel = Kernel::boot(
            platform,
            &BootConfig {
                factions,
                components,
                memory_limit_bytes: None,
            },
        )
        .unwrap_or_else(|error| panic!("boot failed: {error}"));
        let pid = kernel.proc_create().expect("proc_create");
        World { host, kernel, pid }
    }

    /// vfs + tmpfs with a tmpfs mounted at `/`.
    pub fn tmpfs() -> World {
        World::tmpfs_with_options(b"")
    }

    /// vfs + tmpfs with a tmpfs mounted at `/` with `options` (`size=64K`).
    pub fn tmpfs_with_options(options: &[u8]) -> World {
        let world = World::boot(&[Faction::Vfs], &[tmpfs()]);
        world
            .sys()
            .mount(b"tmpfs", b"/", 0, options)
            .expect("mount tmpfs on /");
        world
    }

    /// The process's system calls.
    pub fn sys(&self) -> Sys<'_> {
        self.kernel.sys(self.pid)
    }

    /// Ends the process, halts the kernel and checks that nothing leaked.
    pub fn finish(self) {
        let World { host, kernel, pid } = self;
        kernel.proc_destroy(pid).expect("proc_destroy");
        let report = kernel.halt().expect("halt: kernel still referenced");
        assert!(
            !report.leaked(),
            "kernel memory leaked at halt: {:?}",
            report.memory
        );
        drop(host);
    }
}

/// A result as the raw dispatcher reports it.
pub fn raw_errno(errno: Errno) -> i64 {
    -i64::from(errno.raw())
}

/// Splits `getdents64` output into `(d_ino, d_type, name)` records, checking
/// the record layout (8-byte aligned lengths, NUL-terminated names) on the
/// way.
pub fn parse_dirents(mut bytes: &[u8]) -> Vec<(u64, u8, Vec<u8>)> {
    let mut entries = Vec::new();
    while !bytes.is_empty() {
        assert!(bytes.len() >= 20, "truncated dirent header: {bytes:?}");
        let ino = u64::from_le_bytes(bytes[0..8].try_into().unwrap());
        let reclen = u16::from_le_bytes(bytes[16..18].try_into().unwrap()) as usize;
        let kind = bytes[18];
        assert!(
            reclen >= 20 && reclen.is_multiple_of(8) && reclen <= bytes.len(),
            "bad d_reclen {reclen} with {} bytes left",
            bytes.len()
        );
        let name_area = &bytes[19..reclen];
        let nul = name_area
            .iter()
            .position(|&b| b == 0)
            .expect("dirent name is NUL-terminated");
        entries.push((ino, kind, name_area[..nul].to_vec()));
        bytes = &bytes[reclen..];
    }
    entries
}

/// Every name in directory `path`, sorted (`.` and `..` included).
pub fn list_dir(sys: &Sys<'_>, path: &[u8]) -> Result<Vec<Vec<u8>>, Errno> {
    use rumpkit_kernel::syscall::abi::{O_DIRECTORY, O_RDONLY};
    let fd = sys.open(path, O_RDONLY | O_DIRECTORY, 0)?;
    let mut names = Vec::new();
    let mut buf = vec![0u8; 512];
    let result = loop {
        match sys.getdents(fd, &mut buf) {
            Ok(0) => break Ok(()),
            Ok(n) => names.extend(parse_dirents(&buf[..n]).into_iter().map(|e| e.2)),
            Err(errno) => break Err(errno),
        }
    };
    sys.close(fd).expect("close directory");
    result?;
    names.sort();
    Ok(names)
}
