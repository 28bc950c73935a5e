//! Seed inputs for the fuzz targets, written in the byte encoding the
//! decoders read, so that each seed is a meaningful program: a file written
//! and read back, a directory tree with symlinks and renames, racing
//! threads, allocation faults; block I/O with eviction, lost and failing
//! writes. `fuzz/corpus/<target>/` holds them (regenerate with
//! `RUMPKIT_WRITE_SEEDS=1 cargo test -p rumpkit --lib write_seed_corpus`).

use super::syscalls::{OPEN_FLAGS, PATHS};

/// Builds an input byte by byte.
#[derive(Default)]
struct Enc(Vec<u8>);

impl Enc {
    /// The schedule: seed, then strategy (0 = random with lock preemption).
    fn schedule(seed: u64, strategy: u8) -> Enc {
        let mut enc = Enc::default();
        enc.0.extend_from_slice(&seed.to_le_bytes());
        enc.0.push(strategy);
        enc
    }

    fn b(mut self, bytes: &[u8]) -> Enc {
        self.0.extend_from_slice(bytes);
        self
    }

    fn u16(self, value: u16) -> Enc {
        self.b(&value.to_le_bytes())
    }
}

fn path(p: &str) -> u8 {
    PATHS.iter().position(|q| *q == p).expect("a known path") as u8
}

fn flags(name: &str) -> u8 {
    OPEN_FLAGS
        .iter()
        .position(|(_, n)| *n == name)
        .expect("known flags") as u8
}

/// `fd` as the decoder reads it (-1 ..= 7).
fn fd(fd: i32) -> u8 {
    (fd + 1) as u8
}

// `syscalls` opcodes (see `Op::decode`).
fn open(p: &str, f: &str) -> Vec<u8> {
    vec![0, path(p), flags(f)]
}
fn close(f: i32) -> Vec<u8> {
    vec![3, fd(f)]
}
fn read(f: i32, len: u8) -> Vec<u8> {
    vec![4, fd(f), len]
}
fn write(f: i32, data: &[u8]) -> Vec<u8> {
    let mut v = vec![5, fd(f), data.len() as u8];
    v.extend_from_slice(data);
    v
}
fn lseek_set(f: i32, offset: i8) -> Vec<u8> {
    vec![9, fd(f), offset as u8, 0]
}
fn fstat(f: i32) -> Vec<u8> {
    vec![15, fd(f)]
}
fn mkdir(p: &str) -> Vec<u8> {
    vec![16, path(p)]
}
fn rmdir(p: &str) -> Vec<u8> {
    vec![17, path(p)]
}
fn unlink(p: &str) -> Vec<u8> {
    vec![18, path(p)]
}
fn rename(a: &str, b: &str) -> Vec<u8> {
    vec![19, path(a), path(b)]
}
fn link(a: &str, b: &str) -> Vec<u8> {
    vec![20, path(a), path(b)]
}
fn symlink(target: &str, p: &str) -> Vec<u8> {
    vec![21, path(target), path(p)]
}
fn stat(p: &str) -> Vec<u8> {
    vec![13, path(p)]
}
fn readlink(p: &str) -> Vec<u8> {
    vec![22, path(p), 8]
}
fn dup(f: i32) -> Vec<u8> {
    vec![23, 2, fd(f)]
}
fn getdents(f: i32) -> Vec<u8> {
    vec![23, 0, fd(f)]
}
fn pwrite(f: i32, data: &[u8], offset: i8) -> Vec<u8> {
    let mut v = vec![8, fd(f), data.len() as u8];
    v.extend_from_slice(data);
    v.push(offset as u8);
    v
}
fn mount_tmpfs(p: &str, options: u8) -> Vec<u8> {
    vec![25, 1, 0, path(p), options]
}
fn unmount(p: &str) -> Vec<u8> {
    vec![25, 0, path(p)]
}

fn program(shape: u8, ops: &[Vec<u8>]) -> Vec<u8> {
    let mut enc = Enc::schedule(1, 0).b(&[shape]);
    for op in ops {
        enc = enc.b(op);
    }
    enc.0
}

/// Ops for a two-thread program: each op prefixed by its thread.
fn on(thread: u8, op: Vec<u8>) -> Vec<u8> {
    let mut v = vec![thread];
    v.extend(op);
    v
}

fn syscalls_seeds() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        (
            "file_roundtrip",
            program(
                0,
                &[
                    open("/a", "O_CREAT|O_RDWR"),
                    write(0, b"hello"),
                    lseek_set(0, 0),
                    read(0, 5),
                    fstat(0),
                    close(0),
                ],
            ),
        ),
        (
            "tree_renames",
            program(
                0,
                &[
                    mkdir("/a"),
                    mkdir("/a/a"),
                    open("/a/b", "O_CREAT|O_WRONLY"),
                    symlink("/a", "/b"),
                    rename("/a/a", "/c"),
                    rename("/a", "/a/a/b"),
                    link("/a/b", "/c/b"),
                    unlink("/a/b"),
                    stat("/c/b"),
                    fstat(0),
                    readlink("/b"),
                    rmdir("/c"),
                ],
            ),
        ),
        (
            "dup_append_getdents",
            program(
                0,
                &[
                    open("/c", "O_APPEND|O_CREAT|O_RDWR"),
                    dup(0),
                    write(1, b"abc"),
                    pwrite(0, b"zz", 10),
                    lseek_set(1, 1),
                    read(0, 10),
                    open("/a", "O_CREAT|O_RDWR"),
                    mkdir("/b"),
                    open("/b", "O_DIRECTORY|O_RDONLY"),
                    getdents(3),
                ],
            ),
        ),
        (
            "mount_small_tmpfs",
            program(
                0,
                &[
                    mkdir("/a"),
                    mount_tmpfs("/a", 1),
                    open("/a/a", "O_CREAT|O_RDWR"),
                    write(0, &[b'x'; 32]),
                    unmount("/a"),
                    close(0),
                    unmount("/a"),
                ],
            ),
        ),
        (
            "two_threads_race",
            program(
                2,
                &[
                    on(0, open("/a", "O_CREAT|O_RDWR")),
                    on(1, rename("/a", "/b")),
                    on(0, write(0, b"race")),
                    on(1, unlink("/b")),
                    on(0, close(0)),
                    on(1, mkdir("/a")),
                ],
            ),
        ),
        (
            "alloc_faults",
            Enc::schedule(7, 2)
                .b(&[0x04, 40, 0])
                .b(&open("/a", "O_CREAT|O_RDWR"))
                .b(&write(0, b"data"))
                .b(&mkdir("/b"))
                .b(&symlink("/a", "/b/a"))
                .b(&stat("/b/a"))
                .0,
        ),
    ]
}

// `block_io` opcodes (see `BlockOp::decode`).
fn bwrite(api: bool, offset: u16, len: u16, seed: u8) -> Vec<u8> {
    Enc::default()
        .b(&[if api { 0x80 } else { 0 }])
        .u16(offset)
        .u16(len)
        .b(&[seed])
        .0
}
fn bread(api: bool, offset: u16, len: u16) -> Vec<u8> {
    Enc::default()
        .b(&[if api { 0x85 } else { 5 }])
        .u16(offset)
        .u16(len)
        .0
}
fn bflush(api: bool) -> Vec<u8> {
    vec![if api { 0x8a } else { 10 }]
}

fn block_program(shape: u8, rules: &[(u8, u8)], buffers: Option<u8>, ops: &[Vec<u8>]) -> Vec<u8> {
    let mut enc = Enc::schedule(3, 0).b(&[shape]);
    if let Some(buffers) = buffers {
        enc = enc.b(&[buffers - 1]);
    }
    for (n, kind) in rules {
        enc = enc.b(&[*n, *kind]);
    }
    for op in ops {
        enc = enc.b(op);
    }
    enc.0
}

fn block_seeds() -> Vec<(&'static str, Vec<u8>)> {
    let roundtrip = [
        bwrite(false, 1000, 5000, 1),
        bread(false, 900, 5200),
        bflush(false),
        bwrite(true, 60000, 8000, 2),
        bread(true, 65000, 1000),
        bflush(true),
        vec![12],
    ];
    let eviction: Vec<Vec<u8>> = (0..12)
        .map(|i| bwrite(i % 2 == 0, i * 4000 + 100, 3000, i as u8))
        .chain((0..6).map(|i| bread(false, i * 9000, 4000)))
        .collect();
    vec![
        ("roundtrip", block_program(0x00, &[], None, &roundtrip)),
        // dev.buffers = 2: every few writes evict.
        ("eviction", block_program(0x08, &[], Some(2), &eviction)),
        // bio.lost and bio.reorder: data stays right.
        (
            "lost_and_reordered",
            block_program(0x20, &[(0, 6), (30, 7)], None, &roundtrip),
        ),
        // bio.error op=write p=0.21 with a small cache.
        (
            "write_errors",
            block_program(0x18, &[(20, 0)], Some(2), &eviction),
        ),
        // bio.torn nth=1 and latency.
        (
            "torn_first_write",
            block_program(0x20, &[(0, 4), (200, 8)], None, &roundtrip),
        ),
        // Two threads on the same descriptor.
        (
            "two_threads",
            block_program(
                0x03,
                &[],
                None,
                &[
                    on(0, bwrite(false, 0, 4096, 1)),
                    on(1, bwrite(true, 2048, 4096, 2)),
                    on(0, bflush(false)),
                    on(1, bread(false, 0, 8192)),
                ],
            ),
        ),
    ]
}

fn raw_seeds() -> Vec<(&'static str, Vec<u8>)> {
    // open("/a", O_CREAT|O_RDWR, 0o644); write(fd, buf, 4096);
    // lseek(fd, 0, SEEK_SET); read(fd, buf, 4096); fstat(fd, buf).
    let open_a = [2, 1, 6, 0, 1, 1, 2, 1, 0xa4, 0x01];
    let write = [1, 1, 1, 1, 9, 0, 1, 2];
    let lseek = [7, 1, 1, 1, 0, 0, 1, 0];
    let read = [0, 1, 1, 1, 9, 0, 1, 2];
    let fstat = [5, 1, 1, 1, 9, 0];
    let mut seeds = vec![(
        "open_write_read",
        Enc::schedule(0, 0)
            .b(&[2])
            .b(&open_a)
            .b(&write)
            .b(&lseek)
            .b(&read)
            .b(&fstat)
            .0,
    )];
    // A few deterministic pseudo-random programs of different lengths.
    let mut state = 0x2545_f491_4f6c_dd1du64;
    for (name, len) in [
        ("random_short", 40),
        ("random_medium", 200),
        ("random_long", 600),
    ] {
        let bytes = (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state as u8
            })
            .collect();
        seeds.push((name, bytes));
    }
    seeds
}

fn parser_seeds() -> Vec<(&'static str, Vec<u8>)> {
    let mut seeds: Vec<(&'static str, Vec<u8>)> = vec![
        (
            "docs_example",
            b"# Two threads race a rename against an unlink.\n\
boot vfs tmpfs memlimit=256K\nseeds 32\nstrategy pct depth=3\npreempt locks\n\n\
mount tmpfs \"/\"\nfd = open \"/x\" O_CREAT|O_RDWR 0o644 -> ok\nwrite fd \"hello\\n\" -> 6\nclose fd\n\n\
threads {\n  thread mover {\n    rename \"/x\" \"/y\" -> ok | ENOENT\n  }\n  thread reaper {\n    unlink \"/x\" -> ok | ENOENT\n  }\n}\n\n\
stat \"/y\" -> size=6 type=reg | ENOENT\nhalt\n"
                .to_vec(),
        ),
        (
            "literals",
            b"boot vfs dev tmpfs md mdsize=1M\nfaults \"alloc nth=3; bio.error op=write p=0.1\"\nsleep 10ms\n\
x = lseek 0 0x1f SEEK_SET -> 31 | 0o17 | 4K | EBADF\nread 99 1 -> EBADF\n\
pwrite 3 \"\\x00\\t\\r\\\\\\\"\" -8 -> any\nexpect-fail\n"
                .to_vec(),
        ),
        ("broken", b"write fd \"oops\nthreads {\n thread a {\n}\n}}\nopn \"/a\"\n".to_vec()),
    ];
    seeds.push((
        "converted_syscalls",
        super::to_scenario("syscalls", &syscalls_seeds()[1].1)
            .expect("converts")
            .into_bytes(),
    ));
    seeds.push((
        "converted_block_io",
        super::to_scenario("block_io", &block_seeds()[5].1)
            .expect("converts")
            .into_bytes(),
    ));
    seeds
}

/// The seed inputs of `target`, with file names.
pub fn seed_corpus(target: &str) -> Vec<(&'static str, Vec<u8>)> {
    match target {
        "syscalls" => syscalls_seeds(),
        "block_io" => block_seeds(),
        "raw_syscalls" => raw_seeds(),
        "scenario_parser" => parser_seeds(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every seed runs clean through its target.
    #[test]
    fn seeds_run_clean() {
        for target in super::super::TARGETS {
            let body = super::super::target(target).unwrap();
            for (name, data) in seed_corpus(target) {
                eprintln!("{target}/{name}");
                body(&data);
            }
        }
    }

    /// Writes the seeds into `fuzz/corpus/<target>/` when asked to.
    #[test]
    fn write_seed_corpus() {
        if std::env::var_os("RUMPKIT_WRITE_SEEDS").is_none() {
            return;
        }
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus");
        for target in super::super::TARGETS {
            let dir = root.join(target);
            std::fs::create_dir_all(&dir).unwrap();
            for (name, data) in seed_corpus(target) {
                std::fs::write(dir.join(format!("seed_{name}")), data).unwrap();
            }
        }
    }
}
