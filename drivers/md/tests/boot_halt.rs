//! Ten thousand kernels with the dev faction and md, booted and halted one
//! after another in one process: every halt reports no leak, and neither the
//! platform's books nor the process's memory grow.

use std::sync::Arc;

use rumpkit_host::HostPlatform;
use rumpkit_kernel::hypercall::Hypercalls;
use rumpkit_kernel::{BootConfig, Faction, Kernel};

const KERNELS: usize = 10_000;

/// Resident set size in bytes (Linux), or `None` elsewhere.
fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

#[test]
fn ten_thousand_kernels_boot_and_halt_without_leaking() {
    let host = HostPlatform::builder()
        .block_device("md0", 64 << 10, 512)
        .build();
    let platform: Arc<dyn Hypercalls> = host.clone();
    let config = BootConfig {
        factions: &[Faction::Dev],
        components: &[&rumpkit_md::COMPONENT],
        memory_limit_bytes: None,
    };
    let mut at_100 = None;
    for iteration in 1..=KERNELS {
        let kernel = Kernel::boot(platform.clone(), &config).expect("boot");
        // Some work every time, so that halt has buffers and a device to
        // clean up; the data of one kernel is seen by the next.
        let dev = kernel.dev().unwrap();
        let md0 = dev.bdev_lookup(b"md0").unwrap();
        let offset = (iteration % 100) as u64 * 600;
        let stamp = (iteration as u32).to_le_bytes();
        assert_eq!(dev.bdev_write(&kernel, md0, offset, &stamp), Ok(4));
        if iteration > 1 {
            let mut previous = [0u8; 4];
            let before = ((iteration - 1) % 100) as u64 * 600;
            assert_eq!(dev.bdev_read(&kernel, md0, before, &mut previous), Ok(4));
            assert_eq!(u32::from_le_bytes(previous), iteration as u32 - 1);
        }
        let report = kernel.halt().expect("halt");
        assert!(!report.leaked(), "kernel {iteration} leaked: {report:?}");
        assert!(report.memory.total_allocations > 0);
        let books = host.mem_stats();
        assert_eq!(books.outstanding_bytes, 0, "kernel {iteration}");
        assert_eq!(books.outstanding_allocations, 0, "kernel {iteration}");
        if iteration == 100 {
            at_100 = Some((host.object_counts(), resident_bytes()));
        }
    }
    let (objects_100, resident_100) = at_100.unwrap();
    assert_eq!(host.object_counts(), objects_100, "platform objects grew");
    assert_eq!(
        objects_100,
        Default::default(),
        "platform objects left over"
    );
    if let (Some(before), Some(after)) = (resident_100, resident_bytes()) {
        assert!(
            after < before + (16 << 20),
            "resident memory grew from {before} to {after} bytes"
        );
    }
}
