//! The `block_io` target: reads, writes and flushes of `md0` — through an
//! open `/dev/md0` (devfs, the vfs's block-special path) or straight through
//! the dev faction's API (`bdev_read`, `bdev_write`, `bdev_flush`) — on one
//! or two client threads, under a fault plan drawn from the input
//! (`bio.error`, `bio.torn`, `bio.lost`, `bio.reorder`, `bio.latency`,
//! allocation failures) and a buffer cache of 1 to 8 buffers or the default,
//! so that eviction and write-back are exercised.
//!
//! Checks: the run does not fail and nothing leaks; every error is one the
//! call may give (`EIO` only under `bio.error`/`bio.torn` or allocation
//! faults (a lost write-back of an evicted buffer), `ENOMEM` only
//! under allocation faults, `ENOSPC` only for a write past the end); and
//! when one thread runs and no data-changing fault fired, every count and
//! every byte read equals a shadow copy of the device, and so does the
//! device itself after halt.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

use rumpkit_fault::FaultPlan;
use rumpkit_kernel::syscall::abi::{O_RDWR, SEEK_SET};
use rumpkit_kernel::{Errno, Kernel};

use super::{Input, Schedule, MAX_BLOCK_OPS, MD0_SIZE};

/// Which path an operation takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Via {
    /// The descriptor of `/dev/md0`.
    Fd,
    /// The dev faction's API.
    Api,
}

/// One block operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum BlockOp {
    /// Write `pattern(len, seed)` at `offset`.
    Write {
        via: Via,
        offset: u64,
        len: usize,
        seed: u8,
    },
    /// Read `len` bytes at `offset`.
    Read { via: Via, offset: u64, len: usize },
    /// Write back and flush the device.
    Flush { via: Via },
    /// `sync`: every device.
    Sync,
    /// `lseek(fd, offset, SEEK_SET)`.
    Seek { offset: u64 },
    /// `read(fd, len)` at the file offset.
    ReadCur { len: usize },
    /// `write(fd, pattern(len, seed))` at the file offset.
    WriteCur { len: usize, seed: u8 },
}

/// The longest write.
const LEN_MAX: usize = 5000;

/// Letters in a stride of 7 (period 26), long enough for any write from any
/// start.
static LETTERS: [u8; LEN_MAX + 26] = {
    let mut table = [0u8; LEN_MAX + 26];
    let mut i = 0;
    while i < table.len() {
        table[i] = b'a' + ((i * 7) % 26) as u8;
        i += 1;
    }
    table
};

/// The bytes a write writes: letters, so that scripts stay readable.
pub(crate) fn pattern(len: usize, seed: u8) -> &'static [u8] {
    let start = usize::from(seed) % 26;
    &LETTERS[start..start + len.min(LEN_MAX)]
}

impl BlockOp {
    fn decode(input: &mut Input<'_>) -> BlockOp {
        let kind = input.byte();
        let via = if kind & 0x80 != 0 { Via::Api } else { Via::Fd };
        // Mostly inside the device, sometimes past its end.
        let offset = |input: &mut Input<'_>| u64::from(input.u16()) % (MD0_SIZE + MD0_SIZE / 8);
        let len = |input: &mut Input<'_>| usize::from(input.u16()) % (LEN_MAX + 1);
        match kind % 16 {
            0..=4 => BlockOp::Write {
                via,
                offset: offset(input),
                len: len(input),
                seed: input.byte(),
            },
            5..=9 => BlockOp::Read {
                via,
                offset: offset(input),
                len: len(input),
            },
            10 | 11 => BlockOp::Flush { via },
            12 => BlockOp::Sync,
            13 => BlockOp::Seek {
                offset: offset(input),
            },
            14 => BlockOp::ReadCur { len: len(input) },
            _ => BlockOp::WriteCur {
                len: len(input),
                seed: input.byte(),
            },
        }
    }
}

/// A decoded `block_io` input.
#[derive(Debug, Clone)]
pub(crate) struct BlockProgram {
    pub schedule: Schedule,
    /// The fault plan, and its canonical text.
    pub plan: FaultPlan,
    pub faults: String,
    /// Whether a rule may change data or fail a request (`bio.error`,
    /// `bio.torn`, `alloc`), by rule index.
    pub corrupting: Vec<bool>,
    /// `dev.buffers`, if set.
    pub buffers: Option<u8>,
    pub threads: Vec<Vec<BlockOp>>,
}

impl BlockProgram {
    pub(crate) fn decode(data: &[u8]) -> BlockProgram {
        let mut input = Input::new(data);
        let schedule = Schedule::decode(&mut input);
        let shape = input.byte();
        let nthreads = if shape & 0x03 == 0x03 { 2 } else { 1 };
        let buffers = match (shape >> 2) % 4 {
            0 | 1 => None,
            _ => Some(1 + input.below(8) as u8),
        };
        let mut rules = Vec::new();
        let mut corrupting = Vec::new();
        for _ in 0..usize::from(shape >> 4) % 4 {
            let n = input.byte();
            let p = super::probability(n);
            let (rule, corrupts) = match input.below(11) {
                0 => (format!("bio.error op=write p={p}"), true),
                1 => (format!("bio.error op=read p={p}"), true),
                2 => (format!("bio.error op=flush p={p}"), true),
                3 => (format!("bio.error nth={}", 1 + n % 16), true),
                4 => (format!("bio.torn nth={}", 1 + n % 8), true),
                5 => (format!("bio.torn p={p}"), true),
                6 => ("bio.lost".to_string(), false),
                7 => (format!("bio.reorder p={p}"), false),
                8 => (
                    format!("bio.latency min=0 max={}us", 1 + u32::from(n)),
                    false,
                ),
                9 => (format!("alloc site=dev* nth={}", 1 + n % 32), true),
                _ => (format!("alloc p={p}"), true),
            };
            rules.push(rule);
            corrupting.push(corrupts);
        }
        let (plan, faults) = super::plan(&rules.join("; "));
        let mut threads = vec![Vec::new(); nthreads];
        let mut ops = 0;
        while !input.is_empty() && ops < MAX_BLOCK_OPS {
            let thread = if nthreads > 1 { input.below(2) } else { 0 };
            threads[thread].push(BlockOp::decode(&mut input));
            ops += 1;
        }
        BlockProgram {
            schedule,
            plan,
            faults,
            corrupting,
            buffers,
            threads,
        }
    }

    fn has(&self, prefix: &str) -> bool {
        self.faults.split("; ").any(|rule| rule.starts_with(prefix))
    }

    /// Whether results can be predicted without running: one thread and no
    /// rule that can change data or fail a request.
    pub(crate) fn predictable(&self) -> bool {
        self.threads.len() == 1 && !self.corrupting.iter().any(|c| *c)
    }
}

/// The device as it must be, and the descriptor's offset.
pub(crate) struct Shadow {
    pub bytes: Vec<u8>,
    pub offset: u64,
}

/// What an operation gives: a count, bytes read, or nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Got {
    Count(u64),
    Bytes(Vec<u8>),
    Done,
}

impl Shadow {
    pub(crate) fn new() -> Shadow {
        Shadow {
            bytes: vec![0; MD0_SIZE as usize],
            offset: 0,
        }
    }

    fn write(&mut self, offset: u64, data: &[u8]) -> Result<Got, Errno> {
        if data.is_empty() {
            return Ok(Got::Count(0));
        }
        if offset >= MD0_SIZE {
            return Err(Errno::ENOSPC);
        }
        let count = (MD0_SIZE - offset).min(data.len() as u64) as usize;
        let at = offset as usize;
        self.bytes[at..at + count].copy_from_slice(&data[..count]);
        Ok(Got::Count(count as u64))
    }

    fn read(&self, offset: u64, len: usize) -> Vec<u8> {
        if offset >= MD0_SIZE {
            return Vec::new();
        }
        let at = offset as usize;
        let end = (at + len).min(MD0_SIZE as usize);
        self.bytes[at..end].to_vec()
    }

    /// What `op` must give on a clean device.
    pub(crate) fn apply(&mut self, op: &BlockOp) -> Result<Got, Errno> {
        match op {
            BlockOp::Write {
                offset, len, seed, ..
            } => self.write(*offset, pattern(*len, *seed)),
            BlockOp::Read { offset, len, .. } => Ok(Got::Bytes(self.read(*offset, *len))),
            BlockOp::Flush { .. } | BlockOp::Sync => Ok(Got::Done),
            BlockOp::Seek { offset } => {
                self.offset = *offset;
                Ok(Got::Count(*offset))
            }
            BlockOp::ReadCur { len } => {
                let bytes = self.read(self.offset, *len);
                self.offset += bytes.len() as u64;
                Ok(Got::Bytes(bytes))
            }
            BlockOp::WriteCur { len, seed } => {
                let got = self.write(self.offset, pattern(*len, *seed));
                if let Ok(Got::Count(n)) = got {
                    self.offset += n;
                }
                got
            }
        }
    }
}

/// Runs `op` on the kernel; `fd` is the open `/dev/md0`, if it opened.
fn run_op(kernel: &Kernel, pid: rumpkit_kernel::Pid, fd: i32, op: &BlockOp) -> Result<Got, Errno> {
    let sys = kernel.sys(pid);
    let dev = kernel.dev()?;
    let md0 = dev.bdev_lookup(b"md0")?;
    let count = |n: usize| Got::Count(n as u64);
    let read = |len: usize, f: &dyn Fn(&mut [u8]) -> Result<usize, Errno>| {
        let mut buf = vec![0; len];
        let n = f(&mut buf)?;
        assert!(n <= len, "block_io: read {n} bytes into {len}");
        buf.truncate(n);
        Ok(Got::Bytes(buf))
    };
    let offset_arg = |offset: u64| i64::try_from(offset).expect("small offsets");
    match (op, op_via(op)) {
        (
            BlockOp::Write {
                offset, len, seed, ..
            },
            Via::Fd,
        ) => sys
            .pwrite(fd, pattern(*len, *seed), offset_arg(*offset))
            .map(count),
        (
            BlockOp::Write {
                offset, len, seed, ..
            },
            Via::Api,
        ) => dev
            .bdev_write(kernel, md0, *offset, pattern(*len, *seed))
            .map(count),
        (BlockOp::Read { offset, len, .. }, Via::Fd) => {
            read(*len, &|buf| sys.pread(fd, buf, offset_arg(*offset)))
        }
        (BlockOp::Read { offset, len, .. }, Via::Api) => {
            read(*len, &|buf| dev.bdev_read(kernel, md0, *offset, buf))
        }
        (BlockOp::Flush { .. }, Via::Fd) => sys.fsync(fd).map(|()| Got::Done),
        (BlockOp::Flush { .. }, Via::Api) => dev.bdev_flush(kernel, md0).map(|()| Got::Done),
        (BlockOp::Sync, _) => sys.sync().map(|()| Got::Done),
        (BlockOp::Seek { offset }, _) => {
            sys.lseek(fd, offset_arg(*offset), SEEK_SET).map(Got::Count)
        }
        (BlockOp::ReadCur { len }, _) => read(*len, &|buf| sys.read(fd, buf)),
        (BlockOp::WriteCur { len, seed }, _) => sys.write(fd, pattern(*len, *seed)).map(count),
    }
}

/// The path an operation takes.
pub(crate) fn op_via(op: &BlockOp) -> Via {
    match op {
        BlockOp::Write { via, .. } | BlockOp::Read { via, .. } | BlockOp::Flush { via } => *via,
        _ => Via::Fd,
    }
}

/// The `block_io` fuzz target.
pub fn block_io(data: &[u8]) {
    let program = BlockProgram::decode(data);
    let mut config = super::sim_config(
        &program.schedule,
        program.plan.clone(),
        program.threads.len(),
    );
    if let Some(buffers) = program.buffers {
        config.params = BTreeMap::from([("dev.buffers".to_string(), buffers.to_string())]);
    }
    let alloc_faults = program.has("alloc");
    let io_errors = program.has("bio.error") || program.has("bio.torn");
    let mut sim = rumpkit_fault::Sim::new(config);
    let Some(kernel) = super::boot(&sim) else {
        assert!(alloc_faults, "block_io: boot failed without faults");
        super::check_report("block_io", &sim.run());
        return;
    };
    let pid = kernel.proc_create().ok();
    let mut clients: Vec<super::Client> = Vec::new();
    let single = program.threads.len() == 1;
    let shadow = Rc::new(RefCell::new(Shadow::new()));
    // The first difference from the shadow, checked once the run has shown
    // whether a data-changing fault fired.
    let mismatch: Rc<RefCell<Option<String>>> = Rc::new(RefCell::new(None));
    if let Some(pid) = pid {
        let sys = kernel.sys(pid);
        let fd = sys
            .mount(b"tmpfs", b"/", 0, b"")
            .and_then(|()| sys.mkdir(b"/dev", 0o755))
            .and_then(|()| sys.mount(b"devfs", b"/dev", 0, b""))
            .and_then(|()| sys.open(b"/dev/md0", O_RDWR, 0));
        assert!(
            fd.is_ok() || alloc_faults,
            "block_io: opening /dev/md0 failed: {fd:?}"
        );
        let fd = fd.unwrap_or(-1);
        for ops in program.threads.clone() {
            let shadow = shadow.clone();
            let mismatch = mismatch.clone();
            clients.push(Box::new(move |kernel: &Kernel| {
                for (i, op) in ops.iter().enumerate() {
                    let got = run_op(kernel, pid, fd, op);
                    if let Err(errno) = &got {
                        let legal = match errno {
                            // An evicted buffer whose write-back failed
                            // (also for lack of memory) is lost, and the next
                            // flush says EIO: documented in bufcache.
                            Errno::EIO => io_errors || alloc_faults,
                            Errno::ENOMEM => alloc_faults,
                            Errno::EBADF => fd < 0,
                            Errno::ENOSPC => true,
                            _ => false,
                        };
                        assert!(legal, "block_io: step {i}: {op:?} gave {errno:?}");
                    }
                    if single {
                        let want = shadow.borrow_mut().apply(op);
                        let mut first = mismatch.borrow_mut();
                        if want != got && first.is_none() {
                            *first = Some(format!(
                                "block_io: step {i}: {op:?}: the kernel gave {}, the shadow {}",
                                brief(&got),
                                brief(&want)
                            ));
                        }
                    }
                }
            }));
        }
    } else {
        assert!(alloc_faults, "block_io: proc_create failed without faults");
    }
    let ran = pid.is_some();
    super::spawn_clients("block_io", &sim, kernel, pid, clients);
    let report = sim.run();
    super::check_report("block_io", &report);
    let data_fault = report
        .faults_injected
        .iter()
        .any(|f| program.corrupting.get(f.rule).copied().unwrap_or(true));
    if !single || data_fault || !ran {
        return;
    }
    if let Some(message) = mismatch.borrow_mut().take() {
        panic!("{message}");
    }
    let image = sim.live_image("md0").expect("md0 exists").to_bytes();
    let shadow = shadow.borrow();
    if image == shadow.bytes {
        return;
    }
    if let Some(at) = (0..image.len()).find(|&i| image.get(i) != shadow.bytes.get(i)) {
        panic!(
            "block_io: after halt md0 differs from the shadow at byte {at}: {:?} != {:?}",
            image.get(at),
            shadow.bytes.get(at)
        );
    }
}

/// A short description of a result.
fn brief(got: &Result<Got, Errno>) -> String {
    match got {
        Ok(Got::Bytes(bytes)) => {
            let head: Vec<u8> = bytes.iter().take(16).copied().collect();
            format!(
                "{} bytes {:?}...",
                bytes.len(),
                String::from_utf8_lossy(&head)
            )
        }
        other => format!("{other:?}"),
    }
}
