//! The harness end to end: a deliberately failing sample reports a replay
//! command that reproduces the same trace hash, `rumpkit shrink` reduces a
//! padded failing script to its essential lines, bad scripts get positioned
//! diagnostics, and `rumpkit run` prints its summary line and JSON lines.

use std::path::{Path, PathBuf};
use std::process::Command;

use rumpkit::exec::{run_case, CaseOptions, LoadError, Scenario};
use rumpkit::suite;

fn sample(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/samples")
        .join(name)
}

fn rumpkit(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_rumpkit"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run rumpkit");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn trace_hash_in(text: &str) -> Option<String> {
    let at = text.find("trace hash 0x")? + "trace hash ".len();
    Some(text[at..at + 18].to_string())
}

#[test]
fn a_failing_sample_prints_a_replay_command_that_reproduces_its_trace_hash() {
    let (ok, stdout, stderr) = rumpkit(&["run", "tests/samples/append_order.scn", "--seeds", "32"]);
    assert!(
        !ok,
        "the sample must fail for some seed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("0 passed, 1 failed"), "{stdout}");
    let replay = stderr
        .lines()
        .find_map(|line| line.trim().strip_prefix("replay:"))
        .expect("a replay line")
        .trim()
        .to_string();
    assert!(replay.contains("rumpkit -- replay tests/samples/append_order.scn --seed "));
    assert!(
        stderr.contains("strategy random, preempt locks"),
        "{stderr}"
    );
    let reported = trace_hash_in(&stderr).expect("the report names the trace hash");
    let repro = stderr
        .lines()
        .find_map(|line| line.trim().strip_prefix("repro:"))
        .expect("a repro line")
        .trim()
        .to_string();

    // Run exactly what the report says, minus the `cargo run` prefix.
    let args: Vec<&str> = replay
        .split_once("-- ")
        .expect("cargo run -p rumpkit -- ...")
        .1
        .split_whitespace()
        .collect();
    let (ok, stdout, _) = rumpkit(&args);
    assert!(!ok, "the replay fails too");
    assert_eq!(
        trace_hash_in(&stdout).as_deref(),
        Some(reported.as_str()),
        "{stdout}"
    );

    // The repro script replays to the same hash as well.
    let seed = args.last().unwrap();
    let repro_path = Path::new(env!("CARGO_MANIFEST_DIR")).join(&repro);
    let repro_path = if repro_path.exists() {
        repro_path
    } else {
        PathBuf::from(&repro)
    };
    let (ok, stdout, _) = rumpkit(&[
        "replay",
        repro_path.to_str().unwrap(),
        "--seed",
        seed,
        "--quiet",
    ]);
    assert!(!ok);
    assert_eq!(trace_hash_in(&stdout).as_deref(), Some(reported.as_str()));
}

#[test]
fn repro_files_never_clobber_each_other() {
    let scenario = Scenario::load(&sample("append_order.scn"), "cli-test/clobber").unwrap();
    let case = (0..64)
        .map(|seed| run_case(&scenario, seed, &CaseOptions::default()))
        .find(|case| !case.passed)
        .expect("some seed fails");
    let first = suite::write_repro(&scenario, &case).unwrap();
    let second = suite::write_repro(&scenario, &case).unwrap();
    assert_ne!(first, second);
    let text = std::fs::read_to_string(suite::repo_root().join("harness").join(&second))
        .or_else(|_| std::fs::read_to_string(&second))
        .unwrap();
    assert!(text.contains(&format!("--seed {}", case.seed)), "{text}");
    assert!(text.contains("pread fd 10 0 -> \"ab\""));
}

#[test]
fn shrink_reduces_a_padded_script_to_its_essential_lines() {
    let dir = tempdir();
    let input = dir.join("padded.scn");
    std::fs::copy(sample("append_order_padded.scn"), &input).unwrap();
    let scenario = Scenario::load(&input, "padded").unwrap();
    let seed = (0..64)
        .find(|&seed| !run_case(&scenario, seed, &CaseOptions::default()).passed)
        .expect("some seed fails");
    let output = dir.join("min.scn");
    let (ok, stdout, stderr) = rumpkit(&[
        "shrink",
        input.to_str().unwrap(),
        "--seed",
        &seed.to_string(),
        "--output",
        output.to_str().unwrap(),
    ]);
    assert!(ok, "{stdout}\n{stderr}");
    let text = std::fs::read_to_string(&output).unwrap();
    let body: Vec<&str> = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(str::trim)
        .collect();
    assert!(
        !body
            .iter()
            .any(|l| l.contains("pad") || l.contains("faults")),
        "padding or fault plan left:\n{text}"
    );
    for line in [
        "mount tmpfs \"/\"",
        "fd = open \"/log\" O_CREAT|O_RDWR|O_APPEND 0o644",
        "write fd \"a\" -> 1",
        "write fd \"b\" -> 1",
        "pread fd 10 0 -> \"ab\"",
    ] {
        assert!(body.contains(&line), "`{line}` missing:\n{text}");
    }
    // And the minimal script still fails with that seed.
    let minimal = Scenario::load(&output, "min").unwrap();
    assert!(!run_case(&minimal, seed, &CaseOptions::default()).passed);
}

#[test]
fn shrink_refuses_a_passing_case() {
    let scenario = Scenario::from_source(
        "ok",
        "ok.scn",
        "boot vfs tmpfs\nmount tmpfs \"/\"\nmkdir \"/d\"\n",
    )
    .unwrap();
    let err = rumpkit::shrink::shrink(&scenario, 0).unwrap_err();
    assert!(err.contains("does not fail"), "{err}");
}

fn diagnostics(source: &str) -> String {
    match Scenario::from_source("bad", "bad.scn", source) {
        Ok(_) => panic!("accepted:\n{source}"),
        Err(e @ LoadError::Script(_)) => e.to_string(),
        Err(e) => panic!("{e}"),
    }
}

#[test]
fn bad_scripts_get_positioned_diagnostics() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "mount tmpfs \"/\"\nfd = opn \"/a\" O_CREAT\n",
            "bad.scn:2:6",
            "unknown system call `opn`",
        ),
        (
            "mount tmpfs \"/\"\nfd = open \"/a\" O_CRAET|O_RDWR\n",
            "bad.scn:2:16",
            "O_CRAET",
        ),
        (
            "mount tmpfs \"/\"\nmkdir \"/a\nmkdir \"/b\"\n",
            "bad.scn:2:7",
            "unterminated string",
        ),
        (
            "mount tmpfs \"/\"\nrename \"/a\"\n",
            "bad.scn:2:1",
            "argument",
        ),
        ("mount tmpfs \"/\"\nwrite fd \"x\"\n", "bad.scn:2:7", "`fd`"),
        (
            "boot vfs tmpfs memlimt=1M\n",
            "bad.scn:1:16",
            "unknown boot parameter `memlimt`",
        ),
        (
            "faults \"alloc nth=zero\"\n",
            "bad.scn:1:8",
            "bad fault plan",
        ),
    ];
    for (source, position, message) in cases {
        let text = diagnostics(source);
        assert!(
            text.contains(position),
            "no `{position}` in the diagnostic for\n{source}\n{text}"
        );
        assert!(
            text.contains(message),
            "no `{message}` in the diagnostic for\n{source}\n{text}"
        );
    }
    // Several errors in one file are all reported.
    let text = diagnostics("opn \"/a\"\nmkdir 5\nwrite nothing \"x\"\n");
    assert!(
        text.contains("bad.scn:1:1") && text.contains("bad.scn:2:") && text.contains("bad.scn:3:"),
        "{text}"
    );
}

#[test]
fn check_and_run_report_bad_scripts_without_running_anything() {
    let dir = tempdir();
    let bad = dir.join("bad.scn");
    std::fs::write(&bad, "mount tmpfs \"/\"\nclose\n").unwrap();
    let (ok, _, stderr) = rumpkit(&["check", bad.to_str().unwrap()]);
    assert!(!ok);
    assert!(stderr.contains("bad.scn:2:1"), "{stderr}");
    let (ok, stdout, stderr) = rumpkit(&["run", bad.to_str().unwrap()]);
    assert!(!ok);
    assert!(stderr.contains("bad.scn:2:1"), "{stderr}");
    assert!(stdout.contains("0 passed, 0 failed"), "{stdout}");
}

#[test]
fn run_prints_json_lines_and_the_summary() {
    let (ok, stdout, stderr) = rumpkit(&[
        "run",
        "--json",
        "--seeds",
        "3",
        "../scenarios/vfs/basic_io.scn",
    ]);
    assert!(ok, "{stdout}\n{stderr}");
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON object per line"))
        .collect();
    assert_eq!(lines.len(), 3);
    for (seed, line) in lines.iter().enumerate() {
        assert_eq!(line["scenario"], "vfs/basic_io");
        assert_eq!(line["seed"], seed as u64);
        assert_eq!(line["outcome"], "pass");
        assert!(line["trace_hash"].as_str().unwrap().starts_with("0x"));
    }
    assert!(stderr.contains("3 passed, 0 failed"), "{stderr}");
    // The same seed gives the same hash.
    let (_, again, _) = rumpkit(&[
        "run",
        "--json",
        "--seed",
        "2",
        "../scenarios/vfs/basic_io.scn",
    ]);
    let again: serde_json::Value = serde_json::from_str(again.trim()).unwrap();
    assert_eq!(again["trace_hash"], lines[2]["trace_hash"]);
}

#[test]
fn replay_writes_a_perfetto_trace() {
    let dir = tempdir();
    let out = dir.join("trace.json");
    let (ok, stdout, stderr) = rumpkit(&[
        "replay",
        "../scenarios/vfs/basic_io.scn",
        "--seed",
        "1",
        "--trace-out",
        out.to_str().unwrap(),
    ]);
    assert!(ok, "{stdout}\n{stderr}");
    assert!(stdout.contains("main: fd = open \"/a\" O_CREAT|O_RDWR 0o644 = fd"));
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    let events = json["traceEvents"]
        .as_array()
        .or_else(|| json.as_array())
        .expect("trace events");
    assert!(!events.is_empty());
}

/// A fresh directory under the target directory (no clean-up needed).
fn tempdir() -> PathBuf {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let dir = suite::target_dir()
        .join("rumpkit")
        .join("test-tmp")
        .join(format!(
            "{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn fuzz_inputs_convert_to_scenarios_that_run() {
    let root = suite::repo_root().join("fuzz/corpus");
    let dir = tempdir();
    let mut converted = 0;
    for target in ["syscalls", "block_io"] {
        let mut inputs: Vec<_> = std::fs::read_dir(root.join(target))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        inputs.sort();
        for input in inputs.iter().take(4) {
            let out = dir.join(format!("{target}-{converted}.scn"));
            let (ok, _, stderr) = rumpkit(&[
                "fuzz-to-scenario",
                target,
                input.to_str().unwrap(),
                "--output",
                out.to_str().unwrap(),
            ]);
            assert!(ok, "{}: {stderr}", input.display());
            let (ok, stdout, stderr) = rumpkit(&["run", out.to_str().unwrap(), "--seeds", "2"]);
            assert!(ok, "{}:\n{stdout}\n{stderr}", out.display());
            converted += 1;
        }
    }
    assert!(converted >= 2);
    let (ok, _, stderr) = rumpkit(&["fuzz-to-scenario", "raw_syscalls", "Cargo.toml"]);
    assert!(!ok && stderr.contains("do not convert"), "{stderr}");
}

#[test]
fn boot_refused_by_an_injected_fault_is_not_a_failure_but_a_too_small_memlimit_is() {
    let injected = Scenario::from_source(
        "boot-enomem",
        "boot-enomem.scn",
        "boot vfs tmpfs buffers=4\nfaults \"alloc nth=1\"\nmount tmpfs \"/\"\nmkdir \"/d\"\n",
    )
    .unwrap();
    let case = run_case(&injected, 0, &CaseOptions::default());
    assert!(case.passed, "{:?}", case.failure);
    assert!(
        case.log.iter().any(|l| l.contains("boot = ENOMEM")),
        "{:?}",
        case.log
    );

    let starved = Scenario::from_source(
        "memlimit",
        "memlimit.scn",
        "boot vfs tmpfs memlimit=16\nmount tmpfs \"/\"\n",
    )
    .unwrap();
    let case = run_case(&starved, 0, &CaseOptions::default());
    let failure = case
        .failure
        .expect("a kernel that cannot boot fails the case");
    assert!(
        failure.message.contains("memlimit.scn:1:1: boot failed"),
        "{}",
        failure.message
    );
}
