//! Fuzz input → `.scn` script, so that a crash becomes a regression test by
//! dropping the file into `scenarios/`.
//!
//! The script boots what the targets boot (`vfs dev tmpfs md`, an `md0` of
//! [`MD0_SIZE`] bytes), states the input's strategy, preemption and fault plan, mounts
//! the root tmpfs and makes the input's calls. Where the answer is known
//! without running the kernel — one thread, no faults, and for `syscalls`
//! before the first call the reference model does not know — each call says
//! what it must return (the model's or the shadow device's answer);
//! elsewhere `-> any`. Several threads become a `threads { ... }` block.
//! The fuzzing seed is only a comment: a script runs over the harness's
//! seeds.

use rumpkit_kernel::syscall::abi::{S_IFDIR, S_IFLNK, S_IFREG};
use rumpkit_kernel::Errno;

use super::block::{op_via, pattern, BlockOp, BlockProgram, Got, Shadow, Via};
use super::model::{Model, Val};
use super::syscalls::{Op, Program, OPEN_FLAGS, PATHS, WHENCES};
use super::{scn_string, Schedule, MD0_BLOCK, MD0_SIZE};

/// Converts a `syscalls` or `block_io` input into a scenario script.
pub fn to_scenario(target: &str, data: &[u8]) -> Result<String, String> {
    match target {
        "syscalls" => Ok(syscalls_script(&Program::decode(data))),
        "block_io" => Ok(block_script(&BlockProgram::decode(data))),
        "raw_syscalls" | "scenario_parser" => Err(format!(
            "`{target}` inputs do not convert to scenarios; only syscalls and block_io inputs do"
        )),
        other => Err(format!(
            "unknown fuzz target `{other}` (expected one of {})",
            super::TARGETS.join(", ")
        )),
    }
}

/// The lines every script starts with.
fn header(target: &str, schedule: &Schedule, faults: &str, extra: &str, boot: &str) -> String {
    let mut out = format!(
        "# Converted from a `{target}` fuzz input by `rumpkit fuzz-to-scenario`.\n\
         # The fuzz run used scheduler seed {}.{extra}\n\
         boot vfs dev tmpfs md mdsize={}K mdblock={MD0_BLOCK}{boot}\n",
        schedule.seed,
        MD0_SIZE >> 10
    );
    out.push_str(&schedule.directives());
    if !faults.is_empty() {
        out.push_str(&format!("faults {}\n", scn_string(faults.as_bytes())));
    }
    out.push_str(if faults.is_empty() {
        "mount tmpfs \"/\"\n"
    } else {
        "mount tmpfs \"/\" -> any\n"
    });
    out
}

/// Threads as a `threads` block (or the single thread's lines as they are).
fn body(threads: Vec<Vec<String>>) -> String {
    let mut out = String::new();
    if threads.len() == 1 {
        for line in &threads[0] {
            out.push_str(line);
            out.push('\n');
        }
        return out;
    }
    let busy: Vec<(usize, &Vec<String>)> = threads
        .iter()
        .enumerate()
        .filter(|(_, lines)| !lines.is_empty())
        .collect();
    if busy.is_empty() {
        return out;
    }
    out.push_str("threads {\n");
    for (i, lines) in busy {
        out.push_str(&format!("  thread t{i} {{\n"));
        for line in lines {
            out.push_str(&format!("    {line}\n"));
        }
        out.push_str("  }\n");
    }
    out.push_str("}\n");
    out
}

fn path(p: &[u8]) -> String {
    scn_string(p)
}

/// An [`Op`] as the scenario line that makes the call (without its
/// expectation), e.g. `open "/a" O_CREAT|O_RDWR 0o644`.
impl std::fmt::Display for Op {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&call_text(self))
    }
}

/// The call, without its expectation.
fn call_text(op: &Op) -> String {
    match op {
        Op::Open {
            path: p,
            flags,
            mode,
        } => {
            let flags = OPEN_FLAGS
                .iter()
                .find(|(value, _)| value == flags)
                .map_or_else(|| flags.to_string(), |(_, name)| name.to_string());
            format!("open {} {flags} 0o{mode:o}", path(p))
        }
        Op::Close { fd } => format!("close {fd}"),
        Op::Read { fd, len } => format!("read {fd} {len}"),
        Op::Write { fd, data } => format!("write {fd} {}", scn_string(data)),
        Op::Pread { fd, len, offset } => format!("pread {fd} {len} {offset}"),
        Op::Pwrite { fd, data, offset } => {
            format!("pwrite {fd} {} {offset}", scn_string(data))
        }
        Op::Lseek { fd, offset, whence } => {
            let whence = WHENCES
                .iter()
                .find(|(value, _)| value == whence)
                .map_or_else(|| whence.to_string(), |(_, name)| name.to_string());
            format!("lseek {fd} {offset} {whence}")
        }
        Op::Fsync { fd } => format!("fsync {fd}"),
        Op::Ftruncate { fd, len } => format!("ftruncate {fd} {len}"),
        Op::Truncate { path: p, len } => format!("truncate {} {len}", path(p)),
        Op::Stat { path: p } => format!("stat {}", path(p)),
        Op::Lstat { path: p } => format!("lstat {}", path(p)),
        Op::Fstat { fd } => format!("fstat {fd}"),
        Op::Mkdir { path: p } => format!("mkdir {} 0o755", path(p)),
        Op::Rmdir { path: p } => format!("rmdir {}", path(p)),
        Op::Unlink { path: p } => format!("unlink {}", path(p)),
        Op::Rename { from, to } => format!("rename {} {}", path(from), path(to)),
        Op::Link { existing, new } => format!("link {} {}", path(existing), path(new)),
        Op::Symlink { target, path: p } => format!("symlink {} {}", path(target), path(p)),
        Op::Readlink { path: p, .. } => format!("readlink {}", path(p)),
        Op::Getdents { fd } => format!("getdents {fd}"),
        Op::Chmod { path: p, mode } => format!("chmod {} 0o{mode:o}", path(p)),
        Op::Dup { fd } => format!("dup {fd}"),
        Op::Mount {
            fstype,
            path: p,
            options,
        } => {
            if options.is_empty() {
                format!("mount {fstype} {}", path(p))
            } else {
                format!(
                    "mount {fstype} {} 0 {}",
                    path(p),
                    scn_string(options.as_bytes())
                )
            }
        }
        Op::Unmount { path: p } => format!("unmount {}", path(p)),
        Op::Sync => "sync".to_string(),
    }
}

/// The expectation for a model answer.
fn expectation(op: &Op, answer: &Result<Val, Errno>) -> String {
    match answer {
        Err(errno) => errno.name().to_string(),
        Ok(Val::Bytes(bytes)) => scn_string(bytes),
        Ok(Val::Stat(kind, nlink, size)) => {
            let kind = match *kind {
                S_IFREG => "reg",
                S_IFDIR => "dir",
                S_IFLNK => "lnk",
                _ => return "ok".to_string(),
            };
            match size {
                Some(size) => format!("type={kind} nlink={nlink} size={size}"),
                None => format!("type={kind} nlink={nlink}"),
            }
        }
        Ok(Val::N(n)) => match op {
            Op::Open { .. }
            | Op::Dup { .. }
            | Op::Write { .. }
            | Op::Pwrite { .. }
            | Op::Lseek { .. } => n.to_string(),
            _ => "ok".to_string(),
        },
    }
}

fn syscalls_script(program: &Program) -> String {
    let mut out = header("syscalls", &program.schedule, &program.faults, "", "");
    let mut model = program.modelled().then(Model::new);
    let mut threads = Vec::new();
    for ops in &program.threads {
        let mut lines = Vec::new();
        for op in ops {
            let call = call_text(op);
            let expect = match model.as_mut() {
                Some(m) if op.modelled() => {
                    // Scripts read symlinks whole.
                    let op = match op {
                        Op::Readlink { path, .. } => Op::Readlink { path, len: 4096 },
                        other => other.clone(),
                    };
                    let answer = m.apply(&op).expect("modelled");
                    expectation(&op, &answer.map(|(v, _)| v))
                }
                _ => {
                    model = None;
                    "any".to_string()
                }
            };
            lines.push(format!("{call} -> {expect}"));
        }
        threads.push(lines);
    }
    out.push_str(&body(threads));
    if let Some(m) = model.as_mut() {
        for p in PATHS {
            let op = Op::Lstat { path: p.as_bytes() };
            let answer = m.apply(&op).expect("modelled").map(|(v, _)| v);
            out.push_str(&format!(
                "{} -> {}\n",
                call_text(&op),
                expectation(&op, &answer)
            ));
        }
    }
    out.push_str("halt\n");
    out
}

fn block_call(op: &BlockOp) -> String {
    match op {
        BlockOp::Write {
            offset, len, seed, ..
        } => format!("pwrite 0 {} {offset}", scn_string(pattern(*len, *seed))),
        BlockOp::Read { offset, len, .. } => format!("pread 0 {len} {offset}"),
        BlockOp::Flush { .. } => "fsync 0".to_string(),
        BlockOp::Sync => "sync".to_string(),
        BlockOp::Seek { offset } => format!("lseek 0 {offset} SEEK_SET"),
        BlockOp::ReadCur { len } => format!("read 0 {len}"),
        BlockOp::WriteCur { len, seed } => format!("write 0 {}", scn_string(pattern(*len, *seed))),
    }
}

fn block_script(program: &BlockProgram) -> String {
    let mut extra = String::new();
    let boot = program
        .buffers
        .map_or(String::new(), |buffers| format!(" buffers={buffers}"));
    if program
        .threads
        .iter()
        .flatten()
        .any(|op| op_via(op) == Via::Api)
    {
        extra.push_str(
            "\n# Calls it made through the dev faction's API are pread/pwrite/fsync on /dev/md0 here.",
        );
    }
    let mut out = header(
        "block_io",
        &program.schedule,
        &program.faults,
        &extra,
        &boot,
    );
    let any = if program.faults.is_empty() {
        ""
    } else {
        " -> any"
    };
    out.push_str(&format!(
        "mkdir \"/dev\"{any}\nmount devfs \"/dev\"{any}\nopen \"/dev/md0\" O_RDWR -> {}\n",
        if program.faults.is_empty() {
            "0"
        } else {
            "any"
        }
    ));
    let mut shadow = program.predictable().then(Shadow::new);
    let mut threads = Vec::new();
    for ops in &program.threads {
        let mut lines = Vec::new();
        for op in ops {
            let expect = match shadow.as_mut().map(|s| s.apply(op)) {
                None => "any".to_string(),
                Some(Err(errno)) => errno.name().to_string(),
                Some(Ok(Got::Count(n))) => n.to_string(),
                Some(Ok(Got::Bytes(bytes))) => scn_string(&bytes),
                Some(Ok(Got::Done)) => "ok".to_string(),
            };
            lines.push(format!("{} -> {expect}", block_call(op)));
        }
        threads.push(lines);
    }
    out.push_str(&body(threads));
    out.push_str("halt\n");
    out
}

#[cfg(test)]
mod tests {
    use rumpkit_scenario::testing::PosixTable;
    use rumpkit_scenario::{check, parse, CallTable};

    use super::*;
    use crate::table::KernelTable;

    /// Parses and checks `text` against `table`, with the text in the panic.
    fn assert_checks(text: &str, table: &dyn CallTable) {
        let script = parse("converted.scn", text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        check(&script, table).unwrap_or_else(|e| panic!("{e}\n{text}"));
    }

    /// Pseudo-random inputs of many lengths.
    fn inputs() -> Vec<Vec<u8>> {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        (0..400)
            .map(|i| {
                (0..(i * 7) % 700)
                    .map(|_| {
                        state ^= state << 13;
                        state ^= state >> 7;
                        state ^= state << 17;
                        state as u8
                    })
                    .collect()
            })
            .collect()
    }

    #[test]
    fn converted_scripts_parse_and_check_against_the_kernel_table() {
        let seeds = crate::fuzzing::seed_corpus("syscalls")
            .into_iter()
            .chain(crate::fuzzing::seed_corpus("block_io"))
            .map(|(_, bytes)| bytes);
        for data in inputs().into_iter().chain(seeds) {
            for target in ["syscalls", "block_io"] {
                let text = to_scenario(target, &data).unwrap();
                assert_checks(&text, &KernelTable);
            }
        }
    }

    #[test]
    fn converted_scripts_check_against_the_posix_double() {
        // PosixTable has no `sync` or `getdents` and no mount options, so
        // programs that use those are left to the kernel-table test.
        let mut checked = 0;
        for data in inputs() {
            let program = Program::decode(&data);
            let uses_extras = program.threads.iter().flatten().any(|op| {
                matches!(op, Op::Sync | Op::Getdents { .. })
                    || matches!(op, Op::Mount { options, .. } if !options.is_empty())
            });
            if !uses_extras {
                assert_checks(&syscalls_script(&program), &PosixTable);
                checked += 1;
            }
            let block = BlockProgram::decode(&data);
            if !block
                .threads
                .iter()
                .flatten()
                .any(|op| *op == BlockOp::Sync)
            {
                assert_checks(&block_script(&block), &PosixTable);
                checked += 1;
            }
        }
        assert!(checked > 100, "only {checked} scripts checked");
    }

    #[test]
    fn single_threaded_scripts_carry_the_models_answers() {
        let (_, data) = crate::fuzzing::seed_corpus("syscalls")
            .into_iter()
            .find(|(name, _)| *name == "file_roundtrip")
            .unwrap();
        let text = to_scenario("syscalls", &data).unwrap();
        assert!(
            text.contains("open \"/a\" O_CREAT|O_RDWR 0o644 -> 0\n"),
            "{text}"
        );
        assert!(text.contains("write 0 \"hello\" -> 5\n"), "{text}");
        assert!(text.contains("read 0 5 -> \"hello\"\n"), "{text}");
        assert!(
            text.contains("fstat 0 -> type=reg nlink=1 size=5\n"),
            "{text}"
        );
        assert!(text.contains("lstat \"/b\" -> ENOENT\n"), "{text}");
        assert!(text.ends_with("halt\n"), "{text}");
        assert!(to_scenario("raw_syscalls", &data).is_err());
    }
}
