//! The block-device switch with drivers written here: registration rules,
//! split-phase completion from another thread or inline, and drivers that
//! misbehave.

use std::sync::{Arc, Mutex};

use rumpkit_host::HostPlatform;
use rumpkit_hypercall::Hypercalls;
use rumpkit_kernel::dev::{BlockDone, BlockDriver, BlockGeometry, BlockOp, BlockRequest};
use rumpkit_kernel::{BootConfig, Errno, Faction, Kernel};

/// A RAM disk that completes on a thread of its own, or inline.
struct RamDisk {
    data: Arc<Mutex<Vec<u8>>>,
    inline: bool,
    log: Arc<Mutex<Vec<(BlockOp, u64, usize)>>>,
}

impl BlockDriver for RamDisk {
    fn strategy(&self, request: BlockRequest, done: BlockDone) {
        self.log
            .lock()
            .unwrap()
            .push((request.op, request.offset, request.buf.len()));
        let data = self.data.clone();
        let work = move || {
            let BlockRequest {
                op,
                offset,
                mut buf,
            } = request;
            let start = offset as usize;
            let mut disk = data.lock().unwrap();
            let len = buf.len();
            match op {
                BlockOp::Read => buf.copy_from_slice(&disk[start..start + len]),
                BlockOp::Write => disk[start..start + len].copy_from_slice(&buf),
                BlockOp::Flush => {}
            }
            drop(disk);
            let count = buf.len();
            done.complete(buf, Ok(count));
        };
        if self.inline {
            work();
        } else {
            std::thread::spawn(work);
        }
    }
}

/// A driver that loses every request.
struct BlackHole;

impl BlockDriver for BlackHole {
    fn strategy(&self, request: BlockRequest, done: BlockDone) {
        drop(request);
        drop(done);
    }
}

fn boot(host: &Arc<HostPlatform>, factions: &'static [Faction]) -> Arc<Kernel> {
    let platform: Arc<dyn Hypercalls> = host.clone();
    Kernel::boot(
        platform,
        &BootConfig {
            factions,
            components: &[],
            memory_limit_bytes: None,
        },
    )
    .unwrap()
}

const GEOMETRY: BlockGeometry = BlockGeometry {
    size_bytes: 64 * 1024,
    block_size: 512,
    read_only: false,
};

#[test]
fn registration_rules() {
    let host = HostPlatform::new();
    let kernel = boot(&host, &[]);
    assert_eq!(kernel.dev().err(), Some(Errno::ENOSYS));
    kernel.halt().unwrap();

    let kernel = boot(&host, &[Faction::Dev]);
    let dev = kernel.dev().unwrap();
    assert_eq!(
        dev.register_block_device(b"zz", GEOMETRY, BlackHole)
            .map(|_| ()),
        Ok(())
    );
    assert_eq!(
        dev.register_block_device(b"aa", GEOMETRY, BlackHole)
            .map(|_| ()),
        Ok(())
    );
    assert_eq!(
        dev.register_block_device(b"zz", GEOMETRY, BlackHole),
        Err(Errno::EEXIST)
    );
    for name in [&b""[..], b"a/b", b"nul\0"] {
        assert_eq!(
            dev.register_block_device(name, GEOMETRY, BlackHole),
            Err(Errno::EINVAL)
        );
    }
    let odd = BlockGeometry {
        block_size: 1000,
        ..GEOMETRY
    };
    assert_eq!(
        dev.register_block_device(b"odd", odd, BlackHole),
        Err(Errno::EINVAL)
    );
    let ragged = BlockGeometry {
        size_bytes: 1000,
        ..GEOMETRY
    };
    assert_eq!(
        dev.register_block_device(b"ragged", ragged, BlackHole),
        Err(Errno::EINVAL)
    );
    let alloc = kernel.alloc("test");
    let names = dev.block_device_names(&alloc).unwrap();
    let listed: Vec<&[u8]> = names.iter().map(|n| &n[..]).collect();
    assert_eq!(listed, vec![&b"aa"[..], &b"zz"[..]]);
    drop(listed);
    drop(names);
    drop(alloc);
    let report = kernel.halt().unwrap();
    assert!(!report.leaked(), "{report:?}");
}

#[test]
fn completions_from_threads_and_inline_and_lost_requests() {
    for inline in [false, true] {
        let host = HostPlatform::new();
        let kernel = boot(&host, &[Faction::Dev]);
        let dev = kernel.dev().unwrap();
        let data = Arc::new(Mutex::new(vec![0u8; 64 * 1024]));
        let log = Arc::new(Mutex::new(Vec::new()));
        let id = dev
            .register_block_device(
                b"ram",
                GEOMETRY,
                RamDisk {
                    data: data.clone(),
                    inline,
                    log: log.clone(),
                },
            )
            .unwrap();
        assert_eq!(dev.bdev_write(&kernel, id, 4095, b"xy"), Ok(2));
        assert_eq!(dev.bdev_flush(&kernel, id), Ok(()));
        assert_eq!(&data.lock().unwrap()[4095..4097], b"xy");
        // Every request is aligned to blocks and inside the device.
        for (op, offset, length) in log.lock().unwrap().iter() {
            assert_eq!(offset % 512, 0, "{op:?}");
            assert_eq!(length % 512, 0, "{op:?}");
            assert!(offset + *length as u64 <= 64 * 1024);
        }
        assert!(log
            .lock()
            .unwrap()
            .iter()
            .any(|(op, _, _)| *op == BlockOp::Flush));

        let hole = dev
            .register_block_device(b"hole", GEOMETRY, BlackHole)
            .unwrap();
        let mut buf = [0u8; 10];
        assert_eq!(dev.bdev_read(&kernel, hole, 0, &mut buf), Err(Errno::EIO));
        // The kernel goes on after a driver lost a request.
        assert_eq!(dev.bdev_read(&kernel, id, 4095, &mut buf[..2]), Ok(2));
        assert_eq!(&buf[..2], b"xy");
        let report = kernel.halt().unwrap();
        assert!(!report.leaked(), "{report:?}");
    }
}

#[test]
fn read_only_devices_refuse_writes() {
    let host = HostPlatform::new();
    let kernel = boot(&host, &[Faction::Dev]);
    let dev = kernel.dev().unwrap();
    let read_only = BlockGeometry {
        read_only: true,
        ..GEOMETRY
    };
    let id = dev
        .register_block_device(b"rom", read_only, BlackHole)
        .unwrap();
    assert_eq!(dev.bdev_write(&kernel, id, 0, b"x"), Err(Errno::EROFS));
    assert!(dev.bdev_info(id).unwrap().read_only);
    kernel.halt().unwrap();
}
