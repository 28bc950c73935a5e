//! Several kernels live in one process at once, on one platform, each with
//! its own memory books, mount table, descriptors and files, and each halts
//! clean while the others keep running.

use std::sync::Arc;

use rumpkit_host::HostPlatform;
use rumpkit_hypercall::Hypercalls;
use rumpkit_kernel::syscall::abi::*;
use rumpkit_kernel::{BootConfig, Errno, Faction, Kernel, Pid};

fn boot(platform: &Arc<dyn Hypercalls>, limit: Option<usize>) -> (Arc<Kernel>, Pid) {
    let kernel = Kernel::boot(
        platform.clone(),
        &BootConfig {
            factions: &[Faction::Vfs],
            components: &[&rumpkit_tmpfs::COMPONENT],
            memory_limit_bytes: limit,
        },
    )
    .expect("boot");
    let pid = kernel.proc_create().expect("proc");
    kernel
        .sys(pid)
        .mount(b"tmpfs", b"/", 0, b"")
        .expect("mount");
    (kernel, pid)
}

#[test]
fn kernels_in_one_process_are_independent() {
    let host = HostPlatform::new();
    let platform: Arc<dyn Hypercalls> = host.clone();
    let kernels: Vec<_> = (0..8)
        .map(|i| boot(&platform, Some((i + 1) * (256 << 10))))
        .collect();
    for (i, (kernel, pid)) in kernels.iter().enumerate() {
        let sys = kernel.sys(*pid);
        let name = format!("/only-in-{i}");
        let fd = sys.open(name.as_bytes(), O_CREAT | O_RDWR, 0o644).unwrap();
        assert_eq!(sys.write(fd, name.as_bytes()), Ok(name.len()));
        // Descriptor numbers are per kernel: every kernel's first is the same.
        assert_eq!(fd, 0);
    }
    for (i, (kernel, pid)) in kernels.iter().enumerate() {
        let sys = kernel.sys(*pid);
        for j in 0..kernels.len() {
            let name = format!("/only-in-{j}");
            let seen = sys.stat(name.as_bytes()).map(|st| st.size);
            if i == j {
                assert_eq!(seen, Ok(name.len() as i64));
            } else {
                assert_eq!(seen, Err(Errno::ENOENT), "kernel {i} sees {name}");
            }
        }
    }
    // Halting every other kernel leaves the rest working.
    let mut alive = Vec::new();
    for (i, (kernel, pid)) in kernels.into_iter().enumerate() {
        if i % 2 == 0 {
            kernel.proc_destroy(pid).unwrap();
            assert!(!kernel.halt().unwrap().leaked());
        } else {
            alive.push((kernel, pid));
        }
    }
    for (kernel, pid) in alive {
        let sys = kernel.sys(pid);
        assert_eq!(sys.mkdir(b"/still-here", 0o755), Ok(()));
        assert_eq!(sys.close(0), Ok(()));
        kernel.proc_destroy(pid).unwrap();
        assert!(!kernel.halt().unwrap().leaked());
    }
    assert_eq!(host.mem_stats().outstanding_bytes, 0);
}

#[test]
fn kernels_on_threads_run_at_the_same_time() {
    let host = HostPlatform::new();
    let platform: Arc<dyn Hypercalls> = host.clone();
    let workers: Vec<_> = (0..4)
        .map(|i| {
            let platform = platform.clone();
            std::thread::spawn(move || {
                let (kernel, pid) = boot(&platform, None);
                let sys = kernel.sys(pid);
                for n in 0..200 {
                    let path = format!("/t{i}-{n}");
                    let fd = sys
                        .open(path.as_bytes(), O_CREAT | O_WRONLY, 0o600)
                        .unwrap();
                    sys.write(fd, b"x").unwrap();
                    sys.close(fd).unwrap();
                    if n % 2 == 0 {
                        sys.unlink(path.as_bytes()).unwrap();
                    }
                }
                let count = (0..200)
                    .filter(|n| sys.stat(format!("/t{i}-{n}").as_bytes()).is_ok())
                    .count();
                kernel.proc_destroy(pid).unwrap();
                let leaked = kernel.halt().unwrap().leaked();
                (count, leaked)
            })
        })
        .collect();
    for worker in workers {
        assert_eq!(worker.join().unwrap(), (100, false));
    }
    assert_eq!(host.mem_stats().outstanding_bytes, 0);
}
