//! The host platform keeps the hypercall contract: accounting, locks,
//! condition variables, threads and block I/O.

use std::alloc::Layout;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};

use rumpkit_host::HostPlatform;
use rumpkit_hypercall::{BioOp, BioRequest, HyperError, Hypercalls};

#[test]
fn memory_is_accounted_and_limited() {
    let host = HostPlatform::builder().memory_limit(1000).build();
    let layout = Layout::from_size_align(600, 8).unwrap();
    let first = host.mem_alloc(layout, "test").expect("within the limit");
    assert_eq!(host.mem_stats().outstanding_bytes, 600);
    assert!(host.mem_alloc(layout, "test").is_none(), "beyond the limit");
    assert_eq!(host.mem_stats().refused_allocations, 1);
    // SAFETY: `first` came from `mem_alloc` with `layout`.
    unsafe { host.mem_free(first, layout) };
    assert_eq!(host.mem_stats().outstanding_bytes, 0);
    assert_eq!(host.mem_stats().outstanding_allocations, 0);
}

#[test]
fn mutex_and_condvar_hand_over_between_threads() {
    let host = HostPlatform::new();
    let platform: Arc<dyn Hypercalls> = host.clone();
    let mutex = platform.mutex_create("m");
    let cv = platform.cv_create("cv");
    let counter = Arc::new(AtomicUsize::new(0));
    let mut threads = Vec::new();
    for _ in 0..4 {
        let inner = platform.clone();
        let counter = counter.clone();
        let id = platform
            .thread_create(
                "worker",
                Box::new(move || {
                    for _ in 0..1000 {
                        inner.mutex_enter(mutex);
                        // A racy read-modify-write, safe only under the mutex.
                        let value = counter.load(Ordering::Relaxed);
                        counter.store(value + 1, Ordering::Relaxed);
                        inner.cv_broadcast(cv);
                        inner.mutex_exit(mutex);
                    }
                }),
            )
            .unwrap();
        assert_ne!(id, platform.thread_current());
        threads.push(id);
    }
    platform.mutex_enter(mutex);
    while counter.load(Ordering::Relaxed) < 4000 {
        platform.cv_wait(cv, mutex);
    }
    platform.mutex_exit(mutex);
    for thread in threads {
        platform.thread_join(thread);
    }
    assert_eq!(counter.load(Ordering::Relaxed), 4000);
    let deadline = platform.clock_monotonic_ns() + 2_000_000;
    platform.mutex_enter(mutex);
    assert!(!platform.cv_wait_until(cv, mutex, deadline), "times out");
    assert!(platform.clock_monotonic_ns() >= deadline);
    platform.mutex_exit(mutex);
    platform.cv_destroy(cv);
    platform.mutex_destroy(mutex);
    assert_eq!(host.object_counts(), Default::default());
}

#[test]
fn block_io_round_trips_and_fails_on_request() {
    let host = HostPlatform::builder()
        .block_device("md0", 64 * 1024, 512)
        .build();
    let info = host.bio_open("md0").unwrap();
    assert_eq!(info.size_bytes, 64 * 1024);
    assert_eq!(host.bio_open("nope"), Err(HyperError::NoDevice));
    let (sender, results) = mpsc::channel();
    let submit = |op, offset, buf: Vec<u8>| {
        let sender = sender.clone();
        host.bio_submit(
            info.id,
            BioRequest { op, offset, buf },
            Box::new(move |done| sender.send(done).unwrap()),
        );
        results.recv().unwrap()
    };
    let done = submit(BioOp::Write, 1024, vec![7u8; 512]);
    assert_eq!(done.result, Ok(512));
    let done = submit(BioOp::Read, 1024, vec![0u8; 1024]);
    assert_eq!(done.result, Ok(1024));
    assert_eq!(&done.buf[..512], &[7u8; 512][..]);
    assert_eq!(&done.buf[512..], &[0u8; 512][..]);
    let done = submit(BioOp::Read, 64 * 1024, vec![0u8; 512]);
    assert_eq!(done.result, Err(HyperError::Invalid));
    assert!(host.set_device_failing("md0", true));
    let done = submit(BioOp::Read, 0, vec![0u8; 512]);
    assert_eq!(done.result, Err(HyperError::Io));
    assert_eq!(done.buf.len(), 512, "the buffer comes back on error");
    host.bio_close(info.id);
    assert_eq!(host.object_counts().open_block_devices, 0);
    assert_eq!(host.device_contents("md0").unwrap()[1024], 7);
}
