//! `cargo xtask`: the rumpkit repository's own tasks, in Rust, behind a cargo
//! alias (`.cargo/config.toml`), so that a Rust toolchain is all a contributor
//! needs. `cargo xtask ci` is what CI runs; if it passes locally, CI is green.
//! Every tool a task needs (cargo-nextest, cargo-llvm-cov, llvm-tools,
//! cargo-fuzz, cargo-insta, the bare-metal target) is installed by the task
//! itself when missing.
//!
//! This crate sits on the top (tools) layer: it runs the others as commands
//! and depends on none of them.

mod cmd;
mod coverage;
mod layers;
mod lex;
mod tidy;
mod workspace;

use clap::{Parser, Subcommand};
use cmd::{cargo, Result};
use std::process::ExitCode;

/// The bare-metal target the kernel and drivers must build for.
const BARE_METAL_TARGET: &str = "x86_64-unknown-none";
/// The package whose test target `GOLDEN_TEST` checks the golden snapshots
/// in `golden/` (one per bundled scenario, see golden/README.md).
const GOLDEN_PACKAGE: &str = "rumpkit";
/// The golden snapshot test target (harness/tests/golden.rs).
const GOLDEN_TEST: &str = "golden";

#[derive(Parser)]
#[command(
    name = "cargo xtask",
    about = "rumpkit repository tasks",
    bin_name = "cargo xtask"
)]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

#[derive(Subcommand)]
enum Task {
    /// Check the repository's own rules (layers, no_std, unsafe, docs, tests).
    Tidy,
    /// `cargo nextest run --workspace`, with any further arguments passed on.
    Test {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Build the kernel and every driver for x86_64-unknown-none.
    BareMetal,
    /// Instrumented nextest run, HTML + lcov reports, per-crate table, minimum for kernel and drivers.
    Coverage {
        /// Minimum line coverage in percent for the kernel and each driver
        /// (default: coverage/config.toml, 80).
        #[arg(long)]
        min_line: Option<f64>,
        /// Measure only these packages instead of the whole workspace.
        #[arg(short = 'p', long = "package")]
        packages: Vec<String>,
        /// Arguments passed on to nextest (after `--`).
        #[arg(last = true)]
        nextest_args: Vec<String>,
    },
    /// Check the golden snapshots, or update them with --accept / --review.
    Golden {
        /// Review changed snapshots (cargo insta review on a terminal; as --accept otherwise).
        #[arg(long)]
        review: bool,
        /// Write every changed snapshot and show `git diff --stat golden/`.
        #[arg(long, conflicts_with = "review")]
        accept: bool,
    },
    /// Run a fuzz target with cargo-fuzz (no sanitizer, stable) and print execs/s.
    Fuzz {
        /// Fuzz target name (a file in fuzz/fuzz_targets/).
        target: String,
        /// How long to run, in seconds.
        #[arg(default_value_t = 60)]
        seconds: u64,
        /// Arguments passed on to libFuzzer (after `--`).
        #[arg(last = true)]
        libfuzzer_args: Vec<String>,
    },
    /// `cargo run --release -p rumpkit -- bench`, with any further arguments passed on.
    Bench {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Everything CI checks: tidy, bare-metal, fmt, clippy, coverage (the test run), golden.
    Ci {
        /// Minimum line coverage for the kernel and each driver.
        #[arg(long)]
        min_line: Option<f64>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.task {
        Task::Tidy => tidy(),
        Task::Test { args } => test(&args),
        Task::BareMetal => bare_metal(),
        Task::Coverage {
            min_line,
            packages,
            nextest_args,
        } => coverage::run(&coverage::Options {
            min_line,
            packages: &packages,
            nextest_args: &nextest_args,
            insta_check: false,
        })
        .map(|_| ()),
        Task::Golden { review, accept } => golden(review, accept),
        Task::Fuzz {
            target,
            seconds,
            libfuzzer_args,
        } => fuzz(&target, seconds, &libfuzzer_args),
        Task::Bench { args } => bench(&args),
        Task::Ci { min_line } => ci(min_line),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn tidy() -> Result {
    let tree = workspace::load_tree()?;
    let found = tidy::check(&tree);
    for violation in &found {
        println!("{violation}");
    }
    if found.is_empty() {
        println!(
            "tidy: {} crates and {} Rust files follow the rules",
            tree.crates.len(),
            tree.files.len()
        );
        Ok(())
    } else {
        Err(format!("tidy: {} violation(s)", found.len()))
    }
}

fn test(args: &[String]) -> Result {
    cmd::ensure_cargo_tool("nextest", "cargo-nextest")?;
    cmd::run(
        cargo()
            .current_dir(workspace::root())
            .args(["nextest", "run", "--workspace"])
            .args(args),
    )
}

fn bare_metal() -> Result {
    cmd::ensure_target(BARE_METAL_TARGET)?;
    let meta = workspace::metadata(None)?;
    let members = workspace::members(&meta);
    let mut packages: Vec<&str> = members
        .iter()
        .filter(|m| m.dir == "kernel" || m.dir.starts_with("drivers/"))
        .map(|m| m.name.as_str())
        .collect();
    if packages.is_empty() {
        return Err("no kernel or driver crates in the workspace".into());
    }
    packages.sort();
    let mut build = cargo();
    build
        .current_dir(workspace::root())
        .args(["build", "--target", BARE_METAL_TARGET]);
    for package in &packages {
        build.args(["--package", package]);
    }
    cmd::run(&mut build)?;
    println!(
        "bare-metal: {} built for {BARE_METAL_TARGET}",
        packages.join(", ")
    );
    Ok(())
}

fn golden_exists() -> Result {
    let meta = workspace::metadata(None)?;
    let package = workspace::members(&meta)
        .into_iter()
        .find(|m| m.name == GOLDEN_PACKAGE);
    match package {
        Some(m)
            if workspace::root()
                .join(&m.dir)
                .join("tests")
                .join(format!("{GOLDEN_TEST}.rs"))
                .exists() =>
        {
            Ok(())
        }
        _ => Err(format!(
            "the golden snapshot test `{GOLDEN_PACKAGE} --test {GOLDEN_TEST}` is not in the workspace yet, so there is nothing to check"
        )),
    }
}

fn golden(review: bool, accept: bool) -> Result {
    golden_exists()?;
    cmd::ensure_cargo_tool("nextest", "cargo-nextest")?;
    let root = workspace::root();
    if review && cmd::interactive() {
        cmd::ensure_cargo_tool("insta", "cargo-insta")?;
        return cmd::run(cargo().current_dir(&root).args([
            "insta",
            "test",
            "--review",
            "--package",
            GOLDEN_PACKAGE,
            "--test",
            GOLDEN_TEST,
        ]));
    }
    if review || accept {
        // Write every new or changed snapshot; let every test run to the end.
        cmd::run(
            cargo()
                .current_dir(&root)
                .env("INSTA_UPDATE", "always")
                .env("INSTA_FORCE_PASS", "1")
                .args([
                    "nextest",
                    "run",
                    "--no-fail-fast",
                    "--package",
                    GOLDEN_PACKAGE,
                    "--test",
                    GOLDEN_TEST,
                ]),
        )?;
        cmd::run(
            std::process::Command::new("git")
                .current_dir(&root)
                .args(["diff", "--stat", "--", "golden/"]),
        )?;
        let untracked = cmd::output(std::process::Command::new("git").current_dir(&root).args([
            "ls-files",
            "--others",
            "--exclude-standard",
            "--",
            "golden/",
        ]))?;
        for path in untracked.lines() {
            println!(" {path} (new)");
        }
        return Ok(());
    }
    cmd::run(
        cargo()
            .current_dir(&root)
            .env("INSTA_UPDATE", "no")
            .env("INSTA_FORCE_PASS", "0")
            .args([
                "nextest",
                "run",
                "--package",
                GOLDEN_PACKAGE,
                "--test",
                GOLDEN_TEST,
            ]),
    )
    .map_err(|e| format!("{e}\ngolden snapshots differ or are missing; `cargo xtask golden --review` shows and updates them"))
}

/// The last `exec/s: N` libFuzzer printed, and its closing `Done N runs in S second(s)`.
fn fuzz_speed(lines: &[String]) -> (Option<u64>, Option<(u64, u64)>) {
    let last_rate = lines.iter().rev().find_map(|line| {
        let rest = line.split("exec/s: ").nth(1)?;
        rest.split_whitespace().next()?.parse().ok()
    });
    let done = lines.iter().rev().find_map(|line| {
        let rest = line.trim().strip_prefix("Done ")?;
        let mut words = rest.split_whitespace();
        let runs = words.next()?.parse().ok()?;
        let seconds = words.nth(2)?.parse().ok()?;
        Some((runs, seconds))
    });
    (last_rate, done)
}

fn fuzz(target: &str, seconds: u64, libfuzzer_args: &[String]) -> Result {
    let dir = workspace::root().join("fuzz");
    if !dir.join("Cargo.toml").exists() {
        return Err("fuzz/Cargo.toml does not exist yet".into());
    }
    cmd::ensure_cargo_tool("fuzz", "cargo-fuzz")?;
    // New inputs go to a scratch corpus under fuzz/target (git-ignored); the
    // checked-in seeds in fuzz/corpus/<target> are only read.
    let scratch = dir.join("target").join("corpus").join(target);
    std::fs::create_dir_all(&scratch).map_err(|e| format!("{}: {e}", scratch.display()))?;
    let seeds = dir.join("corpus").join(target);
    // Without comparison tracing: the targets decode inputs a byte at a time
    // with no magic values to match, and tracing every comparison of the
    // kernel and the simulator halves the execution rate (fuzz/README.md).
    let (result, lines) = cmd::run_tee(
        cargo()
            .current_dir(&dir)
            .args(["fuzz", "run", target, "--sanitizer", "none"])
            .arg("--no-trace-compares")
            .arg(&scratch)
            .arg(&seeds)
            .arg("--")
            .arg(format!("-max_total_time={seconds}"))
            .args(libfuzzer_args),
    );
    match fuzz_speed(&lines) {
        (_, Some((runs, secs))) => println!(
            "fuzz {target}: {runs} executions in {secs} s = {} execs/s",
            runs.checked_div(secs).unwrap_or(runs)
        ),
        (Some(rate), None) => println!("fuzz {target}: {rate} execs/s (libFuzzer's last report)"),
        (None, None) => println!("fuzz {target}: libFuzzer reported no execution rate"),
    }
    result
}

fn bench(args: &[String]) -> Result {
    cmd::run(
        cargo()
            .current_dir(workspace::root())
            .args(["run", "--release", "--package", "rumpkit", "--", "bench"])
            .args(args),
    )
}

fn ci(min_line: Option<f64>) -> Result {
    let root = workspace::root();
    let steps = [
        "tidy",
        "bare-metal",
        "fmt",
        "clippy",
        "coverage (all tests, once)",
        "golden",
    ];
    let header = |n: usize| {
        println!(
            "\n==================== ci [{}/{}] {} ====================",
            n + 1,
            steps.len(),
            steps[n]
        )
    };
    let failed = |n: usize, e: String| format!("ci step `{}` failed: {e}", steps[n]);

    header(0);
    tidy().map_err(|e| failed(0, e))?;
    header(1);
    bare_metal().map_err(|e| failed(1, e))?;
    header(2);
    cmd::ensure_component("rustfmt")
        .and_then(|()| cmd::run(cargo().current_dir(&root).args(["fmt", "--all", "--check"])))
        .map_err(|e| failed(2, e))?;
    header(3);
    cmd::ensure_component("clippy")
        .and_then(|()| {
            cmd::run(cargo().current_dir(&root).args([
                "clippy",
                "--workspace",
                "--all-targets",
                "--",
                "-D",
                "warnings",
            ]))
        })
        .map_err(|e| failed(3, e))?;
    header(4);
    let outcome = coverage::run(&coverage::Options {
        min_line,
        packages: &[],
        nextest_args: &[],
        insta_check: true,
    })
    .map_err(|e| failed(4, e))?;
    header(5);
    // The golden tests run again on the instrumented build of step 5, so
    // nothing is compiled twice; this run checks snapshots and never writes.
    golden_exists()
        .and_then(|()| {
            cmd::run(
                cargo()
                    .current_dir(&root)
                    .env("INSTA_UPDATE", "no")
                    .env("INSTA_FORCE_PASS", "0")
                    .args([
                        "llvm-cov",
                        "nextest",
                        "--no-report",
                        "--package",
                        GOLDEN_PACKAGE,
                        "--test",
                        GOLDEN_TEST,
                    ]),
            )
        })
        .map_err(|e| failed(5, e))?;

    println!("\n==================== ci passed ====================");
    print!("{}", outcome.table);
    for line in &outcome.nextest_summary {
        println!("{line}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn cli_parses_pass_through_arguments() {
        let cli = Cli::try_parse_from([
            "xtask",
            "coverage",
            "-p",
            "rumpkit-kernel",
            "--min-line",
            "90",
            "--",
            "--no-fail-fast",
        ])
        .unwrap();
        let Task::Coverage {
            min_line,
            packages,
            nextest_args,
        } = cli.task
        else {
            panic!("not coverage")
        };
        assert_eq!(
            (min_line, packages, nextest_args),
            (
                Some(90.0),
                vec!["rumpkit-kernel".to_string()],
                vec!["--no-fail-fast".to_string()]
            )
        );
        let cli = Cli::try_parse_from(["xtask", "test", "-p", "x", "--no-capture"]).unwrap();
        let Task::Test { args } = cli.task else {
            panic!("not test")
        };
        assert_eq!(args, ["-p", "x", "--no-capture"]);
        let cli = Cli::try_parse_from(["xtask", "fuzz", "syscalls"]).unwrap();
        assert!(matches!(cli.task, Task::Fuzz { seconds: 60, .. }));
        assert!(Cli::try_parse_from(["xtask", "golden", "--review", "--accept"]).is_err());
    }

    #[test]
    fn fuzz_speed_reads_libfuzzer_output() {
        let lines: Vec<String> = [
            "#2\tINITED cov: 10 ft: 10 corp: 1/1b exec/s: 0 rss: 30Mb",
            "#65536\tpulse  cov: 200 ft: 300 corp: 20/400b lim: 4 exec/s: 21845 rss: 40Mb",
            "#1300000\tDONE   cov: 210 ft: 320 corp: 25/500b lim: 4 exec/s: 21666 rss: 41Mb",
            "Done 1300000 runs in 60 second(s)",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(fuzz_speed(&lines), (Some(21666), Some((1_300_000, 60))));
        assert_eq!(fuzz_speed(&lines[..2]), (Some(21845), None));
        assert_eq!(fuzz_speed(&[]), (None, None));
    }
}
