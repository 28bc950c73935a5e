//! devfs over the dev faction: block devices show as block-special files
//! under a tmpfs root, and their I/O goes to the block-device switch. The
//! block device is a tiny RAM driver defined here (completing inline).

use std::sync::{Arc, Mutex};

use rumpkit_host::HostPlatform;
use rumpkit_kernel::dev::{BlockDone, BlockDriver, BlockGeometry, BlockOp, BlockRequest};
use rumpkit_kernel::syscall::abi::*;
use rumpkit_kernel::{BootConfig, Component, Errno, Faction, KResult, Kernel};

const SIZE: u64 = 64 * 1024;

struct Ram {
    bytes: Arc<Mutex<Vec<u8>>>,
}

impl BlockDriver for Ram {
    fn strategy(&self, mut request: BlockRequest, done: BlockDone) {
        let mut bytes = self.bytes.lock().unwrap();
        let start = request.offset as usize;
        let length = request.buf.len();
        match request.op {
            BlockOp::Read => request.buf.copy_from_slice(&bytes[start..start + length]),
            BlockOp::Write => bytes[start..start + length].copy_from_slice(&request.buf),
            BlockOp::Flush => {}
        }
        drop(bytes);
        done.complete(request.buf, Ok(length));
    }
}

/// Registers the RAM disk `ram0` (the test's stand-in for a block driver).
struct RamComponent;

static RAM: RamComponent = RamComponent;

static BACKING: Mutex<Option<Arc<Mutex<Vec<u8>>>>> = Mutex::new(None);

impl Component for RamComponent {
    fn name(&self) -> &'static str {
        "ram"
    }
    fn faction(&self) -> Faction {
        Faction::Dev
    }
    fn init(&self, kernel: &Kernel) -> KResult<()> {
        let bytes = Arc::new(Mutex::new(vec![0u8; SIZE as usize]));
        *BACKING.lock().unwrap() = Some(bytes.clone());
        let geometry = BlockGeometry {
            size_bytes: SIZE,
            block_size: 512,
            read_only: false,
        };
        kernel
            .dev()?
            .register_block_device(b"ram0", geometry, Ram { bytes })
            .map(|_| ())
    }
}

#[test]
fn block_devices_through_devfs() {
    let kernel = Kernel::boot(
        HostPlatform::new(),
        &BootConfig {
            factions: &[Faction::Vfs, Faction::Dev],
            components: &[&rumpkit_tmpfs::COMPONENT, &RAM],
            memory_limit_bytes: None,
        },
    )
    .expect("boot");
    let pid = kernel.proc_create().unwrap();
    let sys = kernel.sys(pid);
    sys.mount(b"tmpfs", b"/", 0, b"").unwrap();
    sys.mkdir(b"/dev", 0o755).unwrap();
    sys.mount(b"devfs", b"/dev", 0, b"").unwrap();

    let stat = sys.stat(b"/dev/ram0").unwrap();
    assert_eq!(stat.mode & S_IFMT, S_IFBLK);
    assert_eq!(stat.size, SIZE as i64);
    assert_ne!(stat.rdev, 0);
    assert_eq!(sys.open(b"/dev/none", O_RDONLY, 0), Err(Errno::ENOENT));
    assert_eq!(
        sys.open(b"/dev/new", O_CREAT | O_RDWR, 0),
        Err(Errno::EPERM)
    );
    assert_eq!(sys.unlink(b"/dev/ram0"), Err(Errno::EPERM));

    let fd = sys.open(b"/dev/ram0", O_RDWR, 0).unwrap();
    assert_eq!(sys.pwrite(fd, b"hello, disk", 1000), Ok(11));
    let mut buf = [0u8; 11];
    assert_eq!(sys.pread(fd, &mut buf, 1000), Ok(11));
    assert_eq!(&buf, b"hello, disk");
    assert_eq!(sys.lseek(fd, 0, SEEK_END), Ok(SIZE));
    assert_eq!(sys.read(fd, &mut buf), Ok(0), "end of the device");
    assert_eq!(sys.write(fd, b"x"), Err(Errno::ENOSPC));
    sys.fsync(fd).unwrap();
    let backing = BACKING.lock().unwrap().clone().unwrap();
    assert_eq!(&backing.lock().unwrap()[1000..1011], b"hello, disk");
    assert_eq!(sys.pwrite(fd, b"synced", 5000), Ok(6));
    sys.sync().unwrap();
    assert_eq!(&backing.lock().unwrap()[5000..5006], b"synced");
    assert_eq!(sys.unmount(b"/dev", 0), Err(Errno::EBUSY));
    sys.close(fd).unwrap();
    sys.unmount(b"/dev", 0).unwrap();
    assert_eq!(sys.stat(b"/dev/ram0"), Err(Errno::ENOENT));
    let report = kernel.halt().expect("halt");
    assert!(!report.leaked(), "{:?}", report.memory);
}
