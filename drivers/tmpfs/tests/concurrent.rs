//! System calls from several host threads at once on one tmpfs: every result
//! is a legal one, the tree stays consistent and halt leaks nothing.

use std::sync::Arc;
use std::thread;

use rumpkit_host::HostPlatform;
use rumpkit_kernel::syscall::abi::*;
use rumpkit_kernel::{BootConfig, Errno, Faction, Kernel};

#[test]
fn threads_racing_on_one_directory() {
    let kernel = Kernel::boot(
        HostPlatform::new(),
        &BootConfig {
            factions: &[Faction::Vfs],
            components: &[&rumpkit_tmpfs::COMPONENT],
            memory_limit_bytes: None,
        },
    )
    .unwrap();
    let setup = kernel.proc_create().unwrap();
    kernel.sys(setup).mount(b"tmpfs", b"/", 0, b"").unwrap();
    kernel.sys(setup).mkdir(b"/shared", 0o777).unwrap();
    let shared_fd = kernel
        .sys(setup)
        .open(b"/shared/log", O_CREAT | O_WRONLY | O_APPEND, 0o644)
        .unwrap();

    let workers: Vec<_> = (0..4u8)
        .map(|worker| {
            let kernel = Arc::clone(&kernel);
            thread::spawn(move || {
                let pid = kernel.proc_create().unwrap();
                let sys = kernel.sys(pid);
                for round in 0..300u32 {
                    let name = format!("/shared/f{}", round % 7).into_bytes();
                    let other =
                        format!("/shared/g{}", (round + u32::from(worker)) % 5).into_bytes();
                    match sys.open(&name, O_CREAT | O_RDWR, 0o600) {
                        Ok(fd) => {
                            assert_eq!(sys.write(fd, &[worker; 10]), Ok(10));
                            sys.close(fd).unwrap();
                        }
                        Err(errno) => panic!("open: {errno}"),
                    }
                    let renamed = sys.rename(&name, &other);
                    assert!(
                        matches!(renamed, Ok(()) | Err(Errno::ENOENT)),
                        "{renamed:?}"
                    );
                    let removed = sys.unlink(&other);
                    assert!(
                        matches!(removed, Ok(()) | Err(Errno::ENOENT)),
                        "{removed:?}"
                    );
                    let made = sys.mkdir(b"/shared/dir", 0o755);
                    assert!(matches!(made, Ok(()) | Err(Errno::EEXIST)), "{made:?}");
                    let gone = sys.rmdir(b"/shared/dir");
                    assert!(matches!(gone, Ok(()) | Err(Errno::ENOENT)), "{gone:?}");
                }
                kernel.proc_destroy(pid).unwrap();
            })
        })
        .collect();
    // Meanwhile, appends through one descriptor shared by this thread.
    for _ in 0..200 {
        assert_eq!(kernel.sys(setup).write(shared_fd, b"0123456789"), Ok(10));
    }
    for worker in workers {
        worker.join().unwrap();
    }
    let sys = kernel.sys(setup);
    assert_eq!(sys.stat(b"/shared/log").unwrap().size, 2000);
    assert_eq!(
        sys.stat(b"/shared").unwrap().nlink,
        2 + u32::from(sys.stat(b"/shared/dir").is_ok())
    );
    let report = kernel.halt().expect("halt");
    assert!(!report.leaked(), "{:?}", report.memory);
}
