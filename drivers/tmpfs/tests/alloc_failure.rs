//! Allocation failure anywhere in vfs + tmpfs: a system call that meets an
//! injected failure answers `ENOMEM` and changes nothing, later calls work,
//! and halt leaks nothing. Also checks the syscall trace events.

use std::alloc::Layout;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use rumpkit_host::HostPlatform;
use rumpkit_kernel::hypercall::*;
use rumpkit_kernel::syscall::abi::*;
use rumpkit_kernel::{BootConfig, Errno, Faction, KResult, Kernel, Pid};

/// The host platform, but the `fail_at`-th allocation after arming fails,
/// and kernel events are recorded.
struct Failing {
    inner: Arc<HostPlatform>,
    armed: AtomicBool,
    countdown: AtomicU64,
    failed: AtomicBool,
    events: Mutex<Vec<String>>,
}

impl Failing {
    fn new() -> Arc<Failing> {
        Arc::new(Failing {
            inner: HostPlatform::new(),
            armed: AtomicBool::new(false),
            countdown: AtomicU64::new(0),
            failed: AtomicBool::new(false),
            events: Mutex::new(Vec::new()),
        })
    }

    fn arm(&self, fail_at: u64) {
        self.countdown.store(fail_at, Ordering::SeqCst);
        self.failed.store(false, Ordering::SeqCst);
        self.armed.store(true, Ordering::SeqCst);
    }

    fn disarm(&self) {
        self.armed.store(false, Ordering::SeqCst);
    }
}

impl Hypercalls for Failing {
    fn mem_alloc(&self, layout: Layout, site: &'static str) -> Option<NonNull<u8>> {
        if self.armed.load(Ordering::SeqCst) && self.countdown.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.armed.store(false, Ordering::SeqCst);
            self.failed.store(true, Ordering::SeqCst);
            return None;
        }
        self.inner.mem_alloc(layout, site)
    }
    unsafe fn mem_free(&self, ptr: NonNull<u8>, layout: Layout) {
        // SAFETY: every pointer came from `inner.mem_alloc`.
        unsafe { self.inner.mem_free(ptr, layout) }
    }
    fn clock_monotonic_ns(&self) -> u64 {
        self.inner.clock_monotonic_ns()
    }
    fn clock_wall_ns(&self) -> u64 {
        self.inner.clock_wall_ns()
    }
    fn sleep_until(&self, deadline_ns: u64) {
        self.inner.sleep_until(deadline_ns)
    }
    fn random_fill(&self, buf: &mut [u8]) {
        self.inner.random_fill(buf)
    }
    fn thread_create(&self, name: &str, entry: ThreadEntry) -> Result<ThreadId, HyperError> {
        self.inner.thread_create(name, entry)
    }
    fn thread_join(&self, thread: ThreadId) {
        self.inner.thread_join(thread)
    }
    fn thread_current(&self) -> ThreadId {
        self.inner.thread_current()
    }
    fn thread_yield(&self) {
        self.inner.thread_yield()
    }
    fn mutex_create(&self, name: &'static str) -> MutexId {
        self.inner.mutex_create(name)
    }
    fn mutex_destroy(&self, mutex: MutexId) {
        self.inner.mutex_destroy(mutex)
    }
    fn mutex_enter(&self, mutex: MutexId) {
        self.inner.mutex_enter(mutex)
    }
    fn mutex_try_enter(&self, mutex: MutexId) -> bool {
        self.inner.mutex_try_enter(mutex)
    }
    fn mutex_exit(&self, mutex: MutexId) {
        self.inner.mutex_exit(mutex)
    }
    fn rw_create(&self, name: &'static str) -> RwLockId {
        self.inner.rw_create(name)
    }
    fn rw_destroy(&self, lock: RwLockId) {
        self.inner.rw_destroy(lock)
    }
    fn rw_enter(&self, lock: RwLockId, mode: RwMode) {
        self.inner.rw_enter(lock, mode)
    }
    fn rw_try_enter(&self, lock: RwLockId, mode: RwMode) -> bool {
        self.inner.rw_try_enter(lock, mode)
    }
    fn rw_exit(&self, lock: RwLockId) {
        self.inner.rw_exit(lock)
    }
    fn cv_create(&self, name: &'static str) -> CondvarId {
        self.inner.cv_create(name)
    }
    fn cv_destroy(&self, cv: CondvarId) {
        self.inner.cv_destroy(cv)
    }
    fn cv_wait(&self, cv: CondvarId, mutex: MutexId) {
        self.inner.cv_wait(cv, mutex)
    }
    fn cv_wait_until(&self, cv: CondvarId, mutex: MutexId, deadline_ns: u64) -> bool {
        self.inner.cv_wait_until(cv, mutex, deadline_ns)
    }
    fn cv_signal(&self, cv: CondvarId) {
        self.inner.cv_signal(cv)
    }
    fn cv_broadcast(&self, cv: CondvarId) {
        self.inner.cv_broadcast(cv)
    }
    fn console_write(&self, bytes: &[u8]) {
        self.inner.console_write(bytes)
    }
    fn kernel_event(&self, event: KernelEvent<'_>) {
        let text = match event {
            KernelEvent::SyscallEnter(name) => format!("enter {name}"),
            KernelEvent::SyscallExit(name, value) => format!("exit {name} {value}"),
            KernelEvent::Mark(name, detail) => format!("mark {name} {detail}"),
        };
        self.events.lock().unwrap().push(text);
    }
    fn panic(&self, message: &str) -> ! {
        self.inner.panic(message)
    }
    fn exit(&self, status: i32) -> ! {
        self.inner.exit(status)
    }
}

fn boot(platform: &Arc<Failing>) -> (Arc<Kernel>, Pid) {
    let kernel = Kernel::boot(
        platform.clone(),
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

/// One node of a snapshot: path, mode, size, nlink, symlink target.
type NodeSnapshot = (Vec<u8>, u32, i64, u32, Vec<u8>);

/// The whole visible tree.
fn snapshot(kernel: &Kernel, pid: Pid) -> Vec<NodeSnapshot> {
    let sys = kernel.sys(pid);
    let mut out = Vec::new();
    let mut stack = vec![b"/".to_vec()];
    while let Some(dir) = stack.pop() {
        let fd = sys.open(&dir, O_RDONLY | O_DIRECTORY, 0).expect("open dir");
        let mut buf = [0u8; 4096];
        loop {
            let n = sys.getdents(fd, &mut buf).expect("getdents");
            if n == 0 {
                break;
            }
            let mut at = 0;
            while at < n {
                let reclen = u16::from_le_bytes([buf[at + 16], buf[at + 17]]) as usize;
                let raw = &buf[at + 19..at + reclen];
                let name = raw[..raw.iter().position(|b| *b == 0).unwrap()].to_vec();
                at += reclen;
                if name == b"." || name == b".." {
                    continue;
                }
                let mut path = dir.clone();
                if path != b"/" {
                    path.push(b'/');
                }
                path.extend_from_slice(&name);
                let stat = sys.lstat(&path).expect("every listed name has a node");
                let mut target = vec![0u8; 256];
                let target = match sys.readlink(&path, &mut target) {
                    Ok(len) => target[..len].to_vec(),
                    Err(_) => Vec::new(),
                };
                if stat.mode & S_IFMT == S_IFDIR {
                    stack.push(path.clone());
                }
                out.push((path, stat.mode, stat.size, stat.nlink, target));
            }
        }
        sys.close(fd).unwrap();
    }
    out.sort();
    out
}

type Step = fn(&rumpkit_kernel::Sys<'_>) -> KResult<i64>;

fn script() -> Vec<(&'static str, Step)> {
    vec![
        ("mkdir /d", |s| s.mkdir(b"/d", 0o755).map(|_| 0)),
        ("mkdir /d/e", |s| s.mkdir(b"/d/e", 0o700).map(|_| 0)),
        ("create /d/f", |s| {
            let fd = s.open(b"/d/f", O_CREAT | O_WRONLY, 0o644)?;
            let r = s.write(fd, &[1u8; 5000]);
            s.close(fd)?;
            r.map(|n| n as i64)
        }),
        ("append /d/f", |s| {
            let fd = s.open(b"/d/f", O_WRONLY | O_APPEND, 0)?;
            let r = s.write(fd, &[2u8; 70000]);
            s.close(fd)?;
            r.map(|n| n as i64)
        }),
        ("symlink /d/l", |s| s.symlink(b"f", b"/d/l").map(|_| 0)),
        ("link /d/e/g", |s| s.link(b"/d/f", b"/d/e/g").map(|_| 0)),
        ("rename /d/f /d/e/h", |s| {
            s.rename(b"/d/f", b"/d/e/h").map(|_| 0)
        }),
        ("rename /d/e /x", |s| s.rename(b"/d/e", b"/x").map(|_| 0)),
        ("truncate /x/h", |s| s.truncate(b"/x/h", 100_000).map(|_| 0)),
        ("stat via symlink dir", |s| {
            s.symlink(b"/x", b"/sx")?;
            s.stat(b"/sx/h").map(|st| st.size)
        }),
        ("mount /d", |s| {
            s.mount(b"tmpfs", b"/d", 0, b"size=1M").map(|_| 0)
        }),
        ("create in mount", |s| {
            let fd = s.open(b"/d/in", O_CREAT | O_RDWR, 0o600)?;
            s.close(fd).map(|_| 0)
        }),
        ("unmount /d", |s| s.unmount(b"/d", 0).map(|_| 0)),
        ("unlink /x/g", |s| s.unlink(b"/x/g").map(|_| 0)),
        ("open unlinked", |s| {
            let fd = s.open(b"/x/h", O_RDWR, 0)?;
            s.unlink(b"/x/h")?;
            let r = s.write(fd, b"still here");
            s.close(fd)?;
            r.map(|n| n as i64)
        }),
        ("rmdir /x", |s| s.rmdir(b"/x").map(|_| 0)),
    ]
}

#[test]
fn injected_allocation_failures_give_enomem_and_change_nothing() {
    // A clean run first: every step succeeds; count its allocations.
    let platform = Failing::new();
    let (kernel, pid) = boot(&platform);
    kernel.sys(pid).mount(b"tmpfs", b"/", 0, b"").unwrap();
    let reference: Vec<_> = script()
        .into_iter()
        .map(|(name, step)| (name, step(&kernel.sys(pid)).expect(name)))
        .collect();
    let allocations = kernel.kmem().stats().total_allocations;
    let report = kernel.halt().unwrap();
    assert!(!report.leaked(), "{:?}", report.memory);

    let mut failures_seen = 0;
    for fail_at in 1..=allocations {
        let platform = Failing::new();
        let (kernel, pid) = boot(&platform);
        kernel.sys(pid).mount(b"tmpfs", b"/", 0, b"").unwrap();
        platform.arm(fail_at);
        for (name, step) in script() {
            let before = {
                platform.disarm();
                let snap = snapshot(&kernel, pid);
                if !platform.failed.load(Ordering::SeqCst) {
                    platform.armed.store(true, Ordering::SeqCst);
                }
                snap
            };
            let result = step(&kernel.sys(pid));
            if platform.failed.load(Ordering::SeqCst) && platform.armed.load(Ordering::SeqCst) {
                unreachable!();
            }
            if result == Err(Errno::ENOMEM) {
                failures_seen += 1;
                platform.disarm();
                let after = snapshot(&kernel, pid);
                // Multi-call steps may have done their first calls; single
                // calls must change nothing.
                if !matches!(
                    name,
                    "create /d/f"
                        | "append /d/f"
                        | "stat via symlink dir"
                        | "create in mount"
                        | "open unlinked"
                ) {
                    assert_eq!(
                        before, after,
                        "{name} failed with ENOMEM but changed the tree (fail_at {fail_at})"
                    );
                }
            }
        }
        platform.disarm();
        let _ = snapshot(&kernel, pid);
        kernel.proc_destroy(pid).unwrap();
        let report = kernel.halt().expect("halt");
        assert!(
            !report.leaked(),
            "leak with fail_at {fail_at}: {:?}",
            report.memory
        );
    }
    eprintln!("allocations {allocations}, failures {failures_seen}");
    assert!(
        failures_seen > 10,
        "failures were injected ({failures_seen})"
    );
    assert_eq!(reference.len(), script().len());
}

#[test]
fn every_system_call_is_traced() {
    let platform = Failing::new();
    let (kernel, pid) = boot(&platform);
    let sys = kernel.sys(pid);
    sys.mount(b"tmpfs", b"/", 0, b"").unwrap();
    assert_eq!(sys.open(b"/nope", O_RDONLY, 0), Err(Errno::ENOENT));
    let fd = sys.open(b"/yes", O_CREAT | O_RDWR, 0).unwrap();
    assert_eq!(sys.write(fd, b"abc"), Ok(3));
    let events = platform.events.lock().unwrap().clone();
    let calls: Vec<&str> = events
        .iter()
        .filter(|e| !e.starts_with("mark"))
        .map(String::as_str)
        .collect();
    assert_eq!(
        calls,
        [
            "enter mount",
            "exit mount 0",
            "enter open",
            "exit open -2",
            "enter open",
            "exit open 0",
            "enter write",
            "exit write 3"
        ]
    );
    assert_eq!(sys.close(fd), Ok(()));
    let report = kernel.halt().unwrap();
    assert!(!report.leaked());
}
