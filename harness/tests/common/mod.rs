//! A kernel workload for the platform-level tests (determinism, the
//! allocation-fault sweep): vfs + dev with tmpfs and md, file operations
//! from several client threads and block I/O on `/dev/md0` through devfs.
//! Every system call's answer — a value or an errno — goes into a log in the
//! order the calls return; nothing is unwrapped, so any errno is survivable
//! and only a panic, a leak or a failed halt ends a run badly.
#![allow(dead_code)]

use std::sync::{Arc, Mutex};

use rumpkit_fault::hypercall::Hypercalls;
use rumpkit_fault::{BlockDeviceSpec, Sim, SimConfig};
use rumpkit_kernel::syscall::abi::{O_CREAT, O_DIRECTORY, O_RDONLY, O_RDWR};
use rumpkit_kernel::{BootConfig, BootError, Errno, Faction, KResult, Kernel, Sys};

/// One answered call: its name and its value or errno.
pub type Entry = (String, Result<i64, Errno>);

/// The answers of every call of one run, in the order they returned.
#[derive(Clone, Default)]
pub struct Log(Arc<Mutex<Vec<Entry>>>);

impl Log {
    pub fn record(&self, what: impl Into<String>, result: KResult<i64>) -> KResult<i64> {
        self.0.lock().unwrap().push((what.into(), result));
        result
    }

    pub fn entries(&self) -> Vec<Entry> {
        self.0.lock().unwrap().clone()
    }

    /// The first call that failed, if any.
    pub fn first_error(&self) -> Option<Entry> {
        self.entries()
            .into_iter()
            .find(|(_, result)| result.is_err())
    }
}

/// vfs + dev, tmpfs + md.
pub const BOOT: BootConfig<'static> = BootConfig {
    factions: &[Faction::Vfs, Faction::Dev],
    components: &[&rumpkit_tmpfs::COMPONENT, &rumpkit_md::COMPONENT],
    memory_limit_bytes: None,
};

/// A simulation configuration with the backing device `md0` (1 MiB) and a
/// buffer cache of five buffers.
pub fn config() -> SimConfig {
    SimConfig {
        block_devices: vec![BlockDeviceSpec::new("md0", 1 << 20, 512)],
        params: [("dev.buffers".to_string(), "5".to_string())].into(),
        ..Default::default()
    }
}

fn unit(result: KResult<()>) -> KResult<i64> {
    result.map(|()| 0)
}

fn size(result: KResult<usize>) -> KResult<i64> {
    result.map(|count| count as i64)
}

/// Bytes that differ per client and offset.
fn pattern(length: usize, seed: u8) -> Vec<u8> {
    (0..length)
        .map(|i| (i as u8).wrapping_mul(29).wrapping_add(seed))
        .collect()
}

/// A file-system client: its own directory, files created, written,
/// renamed, linked into a name every client renames over, and removed.
fn fs_client(kernel: &Kernel, id: u32, log: &Log) {
    let Ok(pid) = log.record(
        format!("fs{id}.proc_create"),
        kernel.proc_create().map(|p| p.0 as i64),
    ) else {
        return;
    };
    let sys: Sys<'_> = kernel.sys(rumpkit_kernel::Pid(pid as u32));
    let call = |what: &str, result: KResult<i64>| log.record(format!("fs{id}.{what}"), result);
    let dir = format!("/c{id}");
    let file = |name: &str| format!("{dir}/{name}").into_bytes();
    let _ = call("mkdir", unit(sys.mkdir(dir.as_bytes(), 0o755)));
    if let Ok(fd) = call(
        "open",
        sys.open(&file("a"), O_CREAT | O_RDWR, 0o644).map(i64::from),
    ) {
        let fd = fd as rumpkit_kernel::Fd;
        let data = pattern(3_000, id as u8);
        let written = call("write", size(sys.write(fd, &data)));
        let _ = call("pwrite", size(sys.pwrite(fd, b"tail", 5_000)));
        let mut back = vec![0u8; 3_000];
        let read = call("pread", size(sys.pread(fd, &mut back, 0)));
        if written == Ok(3_000) && read == Ok(3_000) {
            assert!(back == data, "fs{id}: read back differs");
        }
        let _ = call("close", unit(sys.close(fd)));
    }
    for index in 0..4usize {
        let name = file(&format!("f{index}"));
        let flags = O_CREAT | O_RDWR;
        if let Ok(fd) = call("open.f", sys.open(&name, flags, 0o600).map(i64::from)) {
            let fd = fd as rumpkit_kernel::Fd;
            let _ = call(
                "write.f",
                size(sys.write(fd, &pattern(1_500 * index + 1, index as u8))),
            );
            let _ = call("ftruncate.f", unit(sys.ftruncate(fd, 1_000)));
            let _ = call("fstat.f", sys.fstat(fd).map(|stat| stat.size));
            let _ = call("close.f", unit(sys.close(fd)));
        }
    }
    let _ = call("symlink", unit(sys.symlink(b"a", &file("l"))));
    let mut target = [0u8; 16];
    let _ = call("readlink", size(sys.readlink(&file("l"), &mut target)));
    if let Ok(fd) = call(
        "open.dir",
        sys.open(dir.as_bytes(), O_RDONLY | O_DIRECTORY, 0)
            .map(i64::from),
    ) {
        let fd = fd as rumpkit_kernel::Fd;
        let mut entries = [0u8; 1_024];
        let _ = call("getdents", size(sys.getdents(fd, &mut entries)));
        let _ = call("close.dir", unit(sys.close(fd)));
    }
    for index in 0..4usize {
        let _ = call("unlink.f", unit(sys.unlink(&file(&format!("f{index}")))));
    }
    let _ = call("unlink.l", unit(sys.unlink(&file("l"))));
    let _ = call("rename", unit(sys.rename(&file("a"), &file("b"))));
    let _ = call("mkdir.sub", unit(sys.mkdir(&file("sub"), 0o755)));
    let _ = call("rename.sub", unit(sys.rename(&file("b"), &file("sub/c"))));
    let shared = format!("/shared{id}").into_bytes();
    let _ = call("link", unit(sys.link(&file("sub/c"), &shared)));
    let _ = call("rename.shared", unit(sys.rename(&shared, b"/shared")));
    let _ = call(
        "stat.shared",
        sys.stat(b"/shared").map(|stat| i64::from(stat.nlink)),
    );
    let _ = call("unlink", unit(sys.unlink(&file("sub/c"))));
    let _ = call("rmdir.sub", unit(sys.rmdir(&file("sub"))));
    let _ = call("unlink.shared", unit(sys.unlink(b"/shared")));
    let _ = call("rmdir", unit(sys.rmdir(dir.as_bytes())));
    let _ = call("proc_destroy", unit(kernel.proc_destroy(sys.pid())));
}

/// A block-I/O client: writes, reads back and syncs its own range of
/// `/dev/md0` through devfs and the buffer cache.
fn md_client(kernel: &Kernel, id: u32, log: &Log) {
    let Ok(pid) = log.record(
        format!("md{id}.proc_create"),
        kernel.proc_create().map(|p| p.0 as i64),
    ) else {
        return;
    };
    let sys: Sys<'_> = kernel.sys(rumpkit_kernel::Pid(pid as u32));
    let call = |what: &str, result: KResult<i64>| log.record(format!("md{id}.{what}"), result);
    if let Ok(fd) = call("open", sys.open(b"/dev/md0", O_RDWR, 0).map(i64::from)) {
        let fd = fd as rumpkit_kernel::Fd;
        // Two ranges of three buffers each, one more than the cache
        // holds: writing the second evicts (writes back) the first.
        for range in 0..2i64 {
            let offset = i64::from(id) * 100_000 + range * 40_000 + 100;
            let data = pattern(10_000, 100 + id as u8 + range as u8);
            let written = call("pwrite", size(sys.pwrite(fd, &data, offset)));
            if range == 1 {
                let _ = call("fsync", unit(sys.fsync(fd)));
            }
            let mut back = vec![0u8; 10_000];
            let read = call("pread", size(sys.pread(fd, &mut back, offset)));
            if written == Ok(10_000) && read == Ok(10_000) {
                assert!(back == data, "md{id}: read back differs");
            }
        }
        let _ = call("close", unit(sys.close(fd)));
    }
    if let Ok(fd) = call("open.ro", sys.open(b"/dev/md0", O_RDONLY, 0).map(i64::from)) {
        let fd = fd as rumpkit_kernel::Fd;
        let mut head = vec![0u8; 512];
        let _ = call("read", size(sys.read(fd, &mut head)));
        let _ = call("close.ro", unit(sys.close(fd)));
    }
    let _ = call("sync", unit(sys.sync()));
    let _ = call("proc_destroy", unit(kernel.proc_destroy(sys.pid())));
}

/// Adds the workload to `sim`: a main thread boots the kernel, mounts tmpfs
/// on `/` and devfs on `/dev`, starts `fs_clients` file-system clients and
/// `md_clients` block-I/O clients as platform threads, joins them and halts.
/// Halt must succeed and report no leak (else the run ends as a panic); a
/// boot that fails must fail cleanly (`BootError::Init`), which is logged as
/// the call `boot`.
pub fn add_workload(sim: &Sim, fs_clients: u32, md_clients: u32) -> Log {
    let log = Log::default();
    let hc: Arc<dyn Hypercalls> = sim.hypercalls();
    let main_log = log.clone();
    sim.spawn("main", move || {
        let log = main_log;
        let kernel = match Kernel::boot(hc.clone(), &BOOT) {
            Ok(kernel) => kernel,
            Err(BootError::Init { errno, .. }) => {
                let _ = log.record("boot", Err(errno));
                return;
            }
            Err(other) => panic!("boot: {other}"),
        };
        let _ = log.record("boot", Ok(0));
        if let Ok(pid) = log.record("main.proc_create", kernel.proc_create().map(|p| p.0 as i64)) {
            let sys = kernel.sys(rumpkit_kernel::Pid(pid as u32));
            let _ = log.record("main.mount", unit(sys.mount(b"tmpfs", b"/", 0, b"")));
            let _ = log.record("main.mkdir", unit(sys.mkdir(b"/dev", 0o755)));
            let _ = log.record("main.mount.dev", unit(sys.mount(b"devfs", b"/dev", 0, b"")));
            let _ = log.record("main.proc_destroy", unit(kernel.proc_destroy(sys.pid())));
        }
        let mut clients = Vec::new();
        for id in 0..fs_clients + md_clients {
            let (kernel, log) = (kernel.clone(), log.clone());
            let (name, entry): (String, Box<dyn FnOnce() + Send>) = if id < fs_clients {
                (
                    format!("fs{id}"),
                    Box::new(move || fs_client(&kernel, id, &log)),
                )
            } else {
                let id = id - fs_clients;
                (
                    format!("md{id}"),
                    Box::new(move || md_client(&kernel, id, &log)),
                )
            };
            match hc.thread_create(&name, entry) {
                Ok(thread) => clients.push(thread),
                Err(error) => panic!("thread_create {name}: {error}"),
            }
        }
        for client in clients {
            hc.thread_join(client);
        }
        let report = kernel.halt().expect("halt: the kernel is still referenced");
        assert!(!report.leaked(), "halt reports a leak: {:?}", report.memory);
    });
    log
}
