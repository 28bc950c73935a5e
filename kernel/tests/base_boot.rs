//! Boot and halt of bare kernels on the host platform: clean every time (speed is measured by `rumpkit bench`).

use std::sync::Arc;

use rumpkit_host::HostPlatform;
use rumpkit_hypercall::Hypercalls;
use rumpkit_kernel::{BootConfig, Faction, Kernel};

#[test]
fn ten_thousand_bare_kernels_boot_and_halt_cleanly() {
    let host = HostPlatform::new();
    let platform: Arc<dyn Hypercalls> = host.clone();
    let config = BootConfig {
        factions: &[Faction::Dev],
        components: &[],
        memory_limit_bytes: None,
    };
    let mut at_100 = None;
    for iteration in 1..=10_000 {
        let kernel = Kernel::boot(platform.clone(), &config).expect("boot");
        let report = kernel.halt().expect("halt");
        assert!(!report.leaked(), "kernel {iteration}: {report:?}");
        if iteration == 100 {
            at_100 = Some((host.mem_stats(), host.object_counts()));
        }
    }
    let (books_100, objects_100) = at_100.unwrap();
    let books = host.mem_stats();
    assert_eq!(books.outstanding_bytes, books_100.outstanding_bytes);
    assert_eq!(books.outstanding_bytes, 0);
    assert_eq!(host.object_counts(), objects_100);
    assert_eq!(
        objects_100,
        Default::default(),
        "no thread, lock or device left"
    );
}
