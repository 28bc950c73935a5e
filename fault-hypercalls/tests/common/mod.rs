//! Workloads shared by the integration tests.
#![allow(dead_code)]

use std::sync::{Arc, Mutex};

use rumpkit_fault::hypercall::{
    BioCompletion, BioOp, BioRequest, BlockDevId, CondvarId, Hypercalls, MutexId, ThreadId,
};
use rumpkit_fault::{BlockDeviceSpec, Sim, SimConfig};

pub type Hc = Arc<dyn Hypercalls>;

/// Submits a request and blocks (on a mutex and condvar) until it completes.
pub fn bio_sync(hc: &Hc, dev: BlockDevId, op: BioOp, offset: u64, buf: Vec<u8>) -> BioCompletion {
    let lock = hc.mutex_create("bio.wait.lock");
    let cv = hc.cv_create("bio.wait.cv");
    let slot: Arc<Mutex<Option<BioCompletion>>> = Arc::new(Mutex::new(None));
    let (hc2, slot2) = (hc.clone(), slot.clone());
    hc.bio_submit(
        dev,
        BioRequest { op, offset, buf },
        Box::new(move |completion| {
            hc2.mutex_enter(lock);
            *slot2.lock().unwrap() = Some(completion);
            hc2.cv_signal(cv);
            hc2.mutex_exit(lock);
        }),
    );
    hc.mutex_enter(lock);
    while slot.lock().unwrap().is_none() {
        hc.cv_wait(cv, lock);
    }
    hc.mutex_exit(lock);
    hc.cv_destroy(cv);
    hc.mutex_destroy(lock);
    let completion = slot.lock().unwrap().take().unwrap();
    completion
}

fn random_below(hc: &Hc, bound: u64) -> u64 {
    let mut bytes = [0u8; 8];
    hc.random_fill(&mut bytes);
    u64::from_le_bytes(bytes) % bound
}

/// Several kernel threads sharing a counter under a mutex, a condvar
/// handshake, random sleeps and block I/O; the client joins them all.
pub fn mixed_workload(sim: &Sim) {
    let hc: Hc = sim.hypercalls();
    sim.spawn("client", move || {
        let info = hc.bio_open("md0").expect("md0 is configured");
        let lock: MutexId = hc.mutex_create("counter.lock");
        let cv: CondvarId = hc.cv_create("counter.cv");
        let counter = Arc::new(Mutex::new(0u64));
        let mut threads: Vec<ThreadId> = Vec::new();
        for worker in 0..3u64 {
            let (wh, counter) = (hc.clone(), counter.clone());
            let entry = Box::new(move || {
                let hc = wh;
                for round in 0..4u64 {
                    hc.mutex_enter(lock);
                    *counter.lock().unwrap() += 1;
                    hc.cv_broadcast(cv);
                    hc.mutex_exit(lock);
                    let now = hc.clock_monotonic_ns();
                    hc.sleep_until(now + 1_000 * (1 + random_below(&hc, 50)));
                    let offset = (worker * 4 + round) * 512;
                    let data = vec![(worker * 16 + round) as u8; 512];
                    let done = bio_sync(&hc, info.id, BioOp::Write, offset, data);
                    assert_eq!(done.result, Ok(512));
                    hc.thread_yield();
                }
            });
            threads.push(hc.thread_create(&format!("worker{worker}"), entry).unwrap());
        }
        // Wait (with a timeout loop) until all 12 increments happened.
        hc.mutex_enter(lock);
        while *counter.lock().unwrap() < 12 {
            let deadline = hc.clock_monotonic_ns() + 200_000;
            hc.cv_wait_until(cv, lock, deadline);
        }
        hc.mutex_exit(lock);
        for thread in threads {
            hc.thread_join(thread);
        }
        let done = bio_sync(&hc, info.id, BioOp::Flush, 0, Vec::new());
        assert_eq!(done.result, Ok(0));
        let read = bio_sync(&hc, info.id, BioOp::Read, 512, vec![0; 512]);
        assert_eq!(read.buf, vec![1u8; 512]);
        hc.cv_destroy(cv);
        hc.mutex_destroy(lock);
    });
}

pub fn md0() -> Vec<BlockDeviceSpec> {
    vec![BlockDeviceSpec::new("md0", 4 << 20, 512)]
}

pub fn config(seed: u64) -> SimConfig {
    SimConfig {
        seed,
        block_devices: md0(),
        ..Default::default()
    }
}
