//! md block I/O through the dev faction's buffer cache, on the host platform.

use std::sync::Arc;

use rumpkit_host::HostPlatform;
use rumpkit_kernel::dev::BdevId;
use rumpkit_kernel::hypercall::Hypercalls;
use rumpkit_kernel::{BootConfig, BootError, Errno, Faction, Kernel};

const SIZE: u64 = 4 << 20;

fn host() -> Arc<HostPlatform> {
    HostPlatform::builder()
        .block_device("md0", SIZE, 512)
        .build()
}

fn boot(host: &Arc<HostPlatform>) -> Arc<Kernel> {
    let platform: Arc<dyn Hypercalls> = host.clone();
    Kernel::boot(
        platform,
        &BootConfig {
            factions: &[Faction::Dev],
            components: &[&rumpkit_md::COMPONENT],
            memory_limit_bytes: None,
        },
    )
    .expect("boot")
}

fn halt_clean(host: &Arc<HostPlatform>, kernel: Arc<Kernel>) {
    let report = kernel.halt().expect("halt");
    assert!(!report.leaked(), "{report:?}");
    assert_eq!(host.mem_stats().outstanding_bytes, 0);
    assert_eq!(host.object_counts().open_block_devices, 0);
}

fn pattern(length: usize, seed: u8) -> Vec<u8> {
    (0..length)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

fn md0(kernel: &Kernel) -> BdevId {
    kernel.dev().unwrap().bdev_lookup(b"md0").unwrap()
}

#[test]
fn registers_units_with_their_geometry() {
    let host = host();
    let kernel = boot(&host);
    let dev = kernel.dev().unwrap();
    let alloc = kernel.alloc("test");
    let names = dev.block_device_names(&alloc).unwrap();
    let listed: Vec<&[u8]> = names.iter().map(|name| &name[..]).collect();
    assert_eq!(listed, vec![&b"md0"[..]]);
    drop(listed);
    let info = dev.bdev_info(md0(&kernel)).unwrap();
    assert_eq!(info.size_bytes, SIZE);
    assert_eq!(info.block_size, 512);
    assert!(!info.read_only);
    assert_eq!(dev.bdev_lookup(b"md1"), Err(Errno::ENXIO));
    drop(names);
    drop(alloc);
    halt_clean(&host, kernel);
}

#[test]
fn write_flush_read_back_at_unaligned_offsets() {
    let host = host();
    let kernel = boot(&host);
    let dev = kernel.dev().unwrap();
    let id = md0(&kernel);
    let data = pattern(10_000, 7);
    assert_eq!(dev.bdev_write(&kernel, id, 1_000, &data), Ok(10_000));
    // Delayed write: nothing reached the backing device yet.
    let before = host.device_contents("md0").unwrap();
    assert!(before[1_000..11_000].iter().all(|byte| *byte == 0));
    let mut back = vec![0u8; 10_000];
    assert_eq!(dev.bdev_read(&kernel, id, 1_000, &mut back), Ok(10_000));
    assert_eq!(back, data);
    // A read straddling the written range sees zeros around it.
    let mut around = vec![0xffu8; 12_000];
    assert_eq!(dev.bdev_read(&kernel, id, 0, &mut around), Ok(12_000));
    assert!(around[..1_000].iter().all(|byte| *byte == 0));
    assert_eq!(&around[1_000..11_000], &data[..]);
    assert!(around[11_000..].iter().all(|byte| *byte == 0));
    assert_eq!(dev.bdev_flush(&kernel, id), Ok(()));
    let after = host.device_contents("md0").unwrap();
    assert_eq!(&after[1_000..11_000], &data[..]);
    assert_eq!(dev.buffer_counts().1, 0, "no dirty buffers after a flush");
    halt_clean(&host, kernel);
}

#[test]
fn the_end_of_the_device() {
    let host = host();
    let kernel = boot(&host);
    let dev = kernel.dev().unwrap();
    let id = md0(&kernel);
    let mut buf = vec![0u8; 4096];
    assert_eq!(dev.bdev_read(&kernel, id, SIZE, &mut buf), Ok(0));
    assert_eq!(dev.bdev_read(&kernel, id, SIZE + 12_345, &mut buf), Ok(0));
    assert_eq!(dev.bdev_read(&kernel, id, SIZE - 100, &mut buf), Ok(100));
    assert_eq!(dev.bdev_write(&kernel, id, SIZE, b"x"), Err(Errno::ENOSPC));
    assert_eq!(
        dev.bdev_write(&kernel, id, u64::MAX, b"x"),
        Err(Errno::ENOSPC)
    );
    let tail = pattern(300, 3);
    assert_eq!(dev.bdev_write(&kernel, id, SIZE - 200, &tail), Ok(200));
    assert_eq!(dev.bdev_read(&kernel, id, SIZE - 200, &mut buf), Ok(200));
    assert_eq!(&buf[..200], &tail[..200]);
    assert_eq!(dev.bdev_write(&kernel, id, 0, b""), Ok(0));
    assert_eq!(
        dev.bdev_read(&kernel, BdevId(9), 0, &mut buf),
        Err(Errno::ENXIO)
    );
    halt_clean(&host, kernel);
}

#[test]
fn eviction_writes_dirty_buffers_back() {
    let host = host();
    let kernel = boot(&host);
    let dev = kernel.dev().unwrap();
    let id = md0(&kernel);
    // Four times as much as the cache holds, so most of it is evicted.
    let data = pattern(1 << 20, 11);
    assert_eq!(dev.bdev_write(&kernel, id, 512, &data), Ok(data.len()));
    let (buffers, _) = dev.buffer_counts();
    assert!(buffers <= 64, "the cache is bounded: {buffers}");
    let early = host.device_contents("md0").unwrap();
    assert_eq!(&early[512..4096], &data[..4096 - 512], "evicted first");
    let mut back = vec![0u8; data.len()];
    assert_eq!(dev.bdev_read(&kernel, id, 512, &mut back), Ok(data.len()));
    assert!(back == data, "read back differs");
    // Halt flushes: a new kernel on the same platform sees the data.
    halt_clean(&host, kernel);
    let contents = host.device_contents("md0").unwrap();
    assert!(contents[512..512 + data.len()] == data[..]);
    let kernel = boot(&host);
    let id = md0(&kernel);
    let mut again = vec![0u8; 777];
    let dev = kernel.dev().unwrap();
    assert_eq!(dev.bdev_read(&kernel, id, 100_001, &mut again), Ok(777));
    assert_eq!(&again[..], &data[100_001 - 512..100_001 - 512 + 777]);
    halt_clean(&host, kernel);
}

#[test]
fn io_errors_from_the_backing_device_become_eio() {
    let host = host();
    let kernel = boot(&host);
    let dev = kernel.dev().unwrap();
    let id = md0(&kernel);
    host.set_device_failing("md0", true);
    let mut buf = vec![0u8; 100];
    assert_eq!(dev.bdev_read(&kernel, id, 0, &mut buf), Err(Errno::EIO));
    // A partial-buffer write must read the buffer first, and fails.
    assert_eq!(dev.bdev_write(&kernel, id, 8192, b"lost?"), Err(Errno::EIO));
    // A whole-buffer write is delayed and succeeds; its flush does not.
    let mut whole = vec![0u8; 4096];
    whole[..5].copy_from_slice(b"lost?");
    assert_eq!(dev.bdev_write(&kernel, id, 8192, &whole), Ok(4096));
    assert_eq!(dev.bdev_flush(&kernel, id), Err(Errno::EIO));
    // The device recovers, and so does the kernel: the dirty data is still
    // cached and reaches the device on the next flush.
    host.set_device_failing("md0", false);
    assert_eq!(dev.bdev_read(&kernel, id, 0, &mut buf), Ok(100));
    assert_eq!(dev.bdev_flush(&kernel, id), Ok(()));
    assert_eq!(&host.device_contents("md0").unwrap()[8192..8197], b"lost?");
    halt_clean(&host, kernel);
}

#[test]
fn lost_delayed_writes_are_reported_at_the_next_flush() {
    let host = HostPlatform::builder()
        .block_device("md0", SIZE, 512)
        .param("dev.buffers", "4")
        .build();
    let kernel = boot(&host);
    let dev = kernel.dev().unwrap();
    let id = md0(&kernel);
    assert_eq!(dev.bdev_write(&kernel, id, 0, &[1u8; 4096]), Ok(4096));
    host.set_device_failing("md0", true);
    // Filling the cache evicts the dirty first buffer, whose write fails.
    let mut buf = vec![0u8; 4096];
    for index in 1..=4u64 {
        let _ = dev.bdev_read(&kernel, id, index * 4096, &mut buf);
        let _ = dev.bdev_write(&kernel, id, index * 4096, &[2u8; 4096]);
    }
    host.set_device_failing("md0", false);
    assert_eq!(dev.bdev_flush(&kernel, id), Err(Errno::EIO));
    assert_eq!(dev.bdev_flush(&kernel, id), Ok(()), "reported once");
    halt_clean(&host, kernel);
}

#[test]
fn several_units_and_a_missing_backing_device() {
    let host = HostPlatform::builder()
        .block_device("md0", 64 << 10, 512)
        .block_device("md1", 128 << 10, 4096)
        .param("md.units", "2")
        .build();
    let kernel = boot(&host);
    let dev = kernel.dev().unwrap();
    let md1 = dev.bdev_lookup(b"md1").unwrap();
    assert_eq!(dev.bdev_info(md1).unwrap().size_bytes, 128 << 10);
    assert_eq!(dev.bdev_info(md1).unwrap().block_size, 4096);
    assert_eq!(dev.bdev_write(&kernel, md1, 5, b"unit one"), Ok(8));
    assert_eq!(dev.bdev_flush(&kernel, md1), Ok(()));
    assert_eq!(&host.device_contents("md1").unwrap()[5..13], b"unit one");
    assert!(host.device_contents("md0").unwrap().iter().all(|b| *b == 0));
    halt_clean(&host, kernel);

    let host = HostPlatform::builder()
        .block_device("md0", 64 << 10, 512)
        .param("md.units", "2")
        .build();
    let platform: Arc<dyn Hypercalls> = host.clone();
    let booted = Kernel::boot(
        platform,
        &BootConfig {
            factions: &[Faction::Dev],
            components: &[&rumpkit_md::COMPONENT],
            memory_limit_bytes: None,
        },
    );
    assert_eq!(
        booted.err(),
        Some(BootError::Init {
            what: "md",
            errno: Errno::ENXIO
        })
    );
    assert_eq!(
        host.object_counts().open_block_devices,
        0,
        "md0 closed again"
    );
    assert_eq!(host.mem_stats().outstanding_bytes, 0);
}

#[test]
fn md_needs_the_dev_faction() {
    let host = host();
    let platform: Arc<dyn Hypercalls> = host.clone();
    let booted = Kernel::boot(
        platform,
        &BootConfig {
            factions: &[],
            components: &[&rumpkit_md::COMPONENT],
            memory_limit_bytes: None,
        },
    );
    assert!(matches!(
        booted.err(),
        Some(BootError::MissingFaction {
            component: "md",
            faction: Faction::Dev
        })
    ));
}

#[test]
fn threads_share_the_cache() {
    let host = HostPlatform::builder()
        .block_device("md0", SIZE, 512)
        .param("dev.buffers", "8")
        .build();
    let kernel = boot(&host);
    let id = md0(&kernel);
    let mut threads = Vec::new();
    for worker in 0..4u8 {
        let kernel = kernel.clone();
        threads.push(std::thread::spawn(move || {
            let dev = kernel.dev().unwrap();
            let base = u64::from(worker) * 100_000 + 3;
            for round in 0..20u8 {
                let data = pattern(9_000, worker ^ round);
                assert_eq!(dev.bdev_write(&kernel, id, base, &data), Ok(9_000));
                let mut back = vec![0u8; 9_000];
                assert_eq!(dev.bdev_read(&kernel, id, base, &mut back), Ok(9_000));
                assert!(back == data, "worker {worker} round {round}");
            }
        }));
    }
    for thread in threads {
        thread.join().unwrap();
    }
    halt_clean(&host, kernel);
}

#[test]
fn kernel_memory_limit_gives_enomem_and_recovers() {
    let host = host();
    let platform: Arc<dyn Hypercalls> = host.clone();
    let kernel = Kernel::boot(
        platform,
        &BootConfig {
            factions: &[Faction::Dev],
            components: &[&rumpkit_md::COMPONENT],
            memory_limit_bytes: Some(32 << 10),
        },
    )
    .unwrap();
    let dev = kernel.dev().unwrap();
    let id = md0(&kernel);
    let data = pattern(256 << 10, 5);
    // Buffers are kernel memory: the limit stops the cache growing.
    let result = dev.bdev_write(&kernel, id, 0, &data);
    assert_eq!(result, Err(Errno::ENOMEM));
    assert!(kernel.kmem().stats().refused_allocations > 0);
    // What fits still works, and flushing frees nothing but works.
    assert_eq!(dev.bdev_flush(&kernel, id), Ok(()));
    let mut back = vec![0u8; 4096];
    assert_eq!(dev.bdev_write(&kernel, id, 0, &data[..4096]), Ok(4096));
    assert_eq!(dev.bdev_read(&kernel, id, 0, &mut back), Ok(4096));
    assert_eq!(&back[..], &data[..4096]);
    halt_clean(&host, kernel);
}
