//! `kmem::try_resize_zeroed` behaves like `try_resize(len, 0)` on byte
//! vectors: it keeps the old bytes, zero-fills growth across several 4 KiB
//! chunks, truncates, and answers `ENOMEM` past the memory limit.

use rumpkit_host::HostPlatform;
use rumpkit_kernel::kmem::{try_resize_zeroed, TryPush};
use rumpkit_kernel::{BootConfig, Errno, Kernel};

#[test]
fn resizes_like_try_resize_with_zeros() {
    let kernel = Kernel::boot(
        HostPlatform::new(),
        &BootConfig {
            factions: &[],
            components: &[],
            memory_limit_bytes: Some(1 << 20),
        },
    )
    .unwrap();
    let alloc = kernel.alloc("test");
    for (start, steps) in [
        (
            0usize,
            &[0usize, 1, 4095, 4096, 4097, 10_000, 3, 0, 9000][..],
        ),
        (5, &[5, 12_289, 100, 100_000][..]),
    ] {
        let mut fast = alloc.vec::<u8>();
        let mut slow = alloc.vec::<u8>();
        for i in 0..start {
            fast.try_push(i as u8 + 1).unwrap();
            slow.try_push(i as u8 + 1).unwrap();
        }
        for &len in steps {
            try_resize_zeroed(&mut fast, len).unwrap();
            slow.try_resize(len, 0).unwrap();
            assert_eq!(fast.len(), len);
            assert!(fast[..] == slow[..], "differs at length {len}");
            // Dirty the bytes, so that growth must really zero them.
            fast.fill(0xee);
            slow.fill(0xee);
        }
    }
    let mut huge = alloc.vec::<u8>();
    assert_eq!(try_resize_zeroed(&mut huge, 2 << 20), Err(Errno::ENOMEM));
    assert!(huge.is_empty());
    drop(huge);
    drop(alloc);
    assert!(!kernel.halt().unwrap().leaked());
}
