//! Kernel threads and callouts on the host platform.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use rumpkit_host::HostPlatform;
use rumpkit_hypercall::Hypercalls;
use rumpkit_kernel::{BootConfig, Errno, Kernel};

fn boot(host: &Arc<HostPlatform>) -> Arc<Kernel> {
    let platform: Arc<dyn Hypercalls> = host.clone();
    Kernel::boot(
        platform,
        &BootConfig {
            factions: &[],
            components: &[],
            memory_limit_bytes: None,
        },
    )
    .expect("boot")
}

#[test]
fn kthreads_run_and_join() {
    let host = HostPlatform::new();
    let kernel = boot(&host);
    let results = Arc::new(Mutex::new(Vec::new()));
    let mut threads = Vec::new();
    for index in 0..4 {
        let results = results.clone();
        threads.push(
            kernel
                .kthread_create("worker", move || results.lock().unwrap().push(index))
                .unwrap(),
        );
    }
    assert!(kernel.kthread_count() <= 4);
    for thread in threads {
        thread.join();
    }
    assert_eq!(kernel.kthread_count(), 0);
    let mut seen = results.lock().unwrap().clone();
    seen.sort();
    assert_eq!(seen, vec![0, 1, 2, 3]);
    let report = kernel.halt().unwrap();
    assert!(!report.leaked(), "{report:?}");
    assert_eq!(host.object_counts().threads, 0);
}

#[test]
fn halt_joins_threads_that_nobody_joined() {
    let host = HostPlatform::new();
    let kernel = boot(&host);
    let finished = Arc::new(Mutex::new(false));
    let flag = finished.clone();
    let thread = kernel
        .kthread_create("sleeper", move || {
            std::thread::sleep(Duration::from_millis(20));
            *flag.lock().unwrap() = true;
        })
        .unwrap();
    drop(thread);
    let report = kernel.halt().unwrap();
    assert!(!report.leaked(), "{report:?}");
    assert!(
        *finished.lock().unwrap(),
        "halt returned before the thread ended"
    );
    assert_eq!(host.object_counts().threads, 0);
}

#[test]
fn a_kernel_thread_may_hold_the_kernel_while_it_runs() {
    let host = HostPlatform::new();
    let kernel = boot(&host);
    let inner = kernel.clone();
    kernel
        .kthread_create("holder", move || {
            std::thread::sleep(Duration::from_millis(10));
            drop(inner);
        })
        .unwrap();
    // Halt joins the thread first, so its reference is gone when halt
    // unwraps the kernel.
    let report = kernel.halt().unwrap();
    assert!(!report.leaked(), "{report:?}");
}

#[test]
fn callouts_fire_in_deadline_order() {
    let host = HostPlatform::new();
    let kernel = boot(&host);
    assert_eq!(
        host.object_counts().threads,
        0,
        "boot starts no callout thread"
    );
    let fired = Arc::new(Mutex::new(Vec::new()));
    let start = host.clock_monotonic_ns();
    let mut ids = Vec::new();
    for (tag, delay_ms) in [
        ("c", 60u64),
        ("a", 20),
        ("stopped", 30),
        ("b", 40),
        ("a2", 20),
    ] {
        let fired = fired.clone();
        let platform = host.clone();
        let id = kernel
            .callout_schedule(delay_ms * 1_000_000, move || {
                let elapsed = platform.clock_monotonic_ns() - start;
                fired.lock().unwrap().push((tag, elapsed));
            })
            .unwrap();
        ids.push(id);
    }
    assert_eq!(kernel.callout_pending(), 5);
    assert!(kernel.callout_stop(ids[2]));
    assert!(!kernel.callout_stop(ids[2]), "stopping twice");
    for _ in 0..200 {
        if fired.lock().unwrap().len() == 4 {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let fired = fired.lock().unwrap().clone();
    let tags: Vec<_> = fired.iter().map(|(tag, _)| *tag).collect();
    assert_eq!(tags, vec!["a", "a2", "b", "c"]);
    for ((_, elapsed), delay_ms) in fired.iter().zip([20u64, 20, 40, 60]) {
        assert!(*elapsed >= delay_ms * 1_000_000, "fired early: {fired:?}");
    }
    assert!(!kernel.callout_stop(ids[0]), "already ran");
    assert_eq!(kernel.callout_pending(), 0);
    let report = kernel.halt().unwrap();
    assert!(!report.leaked(), "{report:?}");
    assert_eq!(host.object_counts().threads, 0);
}

#[test]
fn halt_drops_pending_callouts_unrun() {
    let host = HostPlatform::new();
    let kernel = boot(&host);
    let fired = Arc::new(Mutex::new(false));
    let flag = fired.clone();
    kernel
        .callout_schedule(3_600 * 1_000_000_000, move || *flag.lock().unwrap() = true)
        .unwrap();
    // A callout that holds the kernel must not keep halt from freeing it.
    let held = kernel.clone();
    kernel
        .callout_schedule(3_600 * 1_000_000_000, move || drop(held))
        .unwrap();
    let report = kernel.halt().unwrap();
    assert!(!report.leaked(), "{report:?}");
    assert!(!*fired.lock().unwrap());
    assert_eq!(host.object_counts().threads, 0);
}

#[test]
fn memory_limit_gives_enomem_and_the_kernel_stays_usable() {
    let host = HostPlatform::new();
    let platform: Arc<dyn Hypercalls> = host.clone();
    let kernel = Kernel::boot(
        platform,
        &BootConfig {
            factions: &[],
            components: &[],
            memory_limit_bytes: Some(64 * 1024),
        },
    )
    .unwrap();
    let alloc = kernel.alloc("test.big");
    let mut big = alloc.vec::<u8>();
    assert!(big.try_reserve(128 * 1024).is_err(), "beyond the limit");
    let mut kept = Vec::new();
    let error = loop {
        let mut chunk = alloc.vec::<u8>();
        match chunk.try_reserve_exact(4096) {
            Ok(()) => kept.push(chunk),
            Err(_) => break Errno::ENOMEM,
        }
        assert!(kept.len() <= 16, "the limit is not enforced");
    };
    assert_eq!(error, Errno::ENOMEM);
    // Callouts need memory too: refused, not aborted.
    assert_eq!(kernel.callout_schedule(1, || {}).err(), Some(Errno::ENOMEM));
    assert!(kernel.kmem().stats().refused_allocations >= 2);
    kept.clear();
    // Usable again once memory is back.
    let fired = Arc::new(Mutex::new(false));
    let flag = fired.clone();
    kernel
        .callout_schedule(0, move || *flag.lock().unwrap() = true)
        .unwrap();
    for _ in 0..200 {
        if *fired.lock().unwrap() {
            break;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    assert!(*fired.lock().unwrap());
    drop(big);
    drop(alloc);
    let report = kernel.halt().unwrap();
    assert!(!report.leaked(), "{report:?}");
    assert_eq!(host.mem_stats().outstanding_bytes, 0);
}
