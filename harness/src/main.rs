//! `rumpkit`: run, replay and shrink scenario scripts on the deterministic
//! platform, check scripts, and benchmark the platform.

use std::io::{IsTerminal, Write as _};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rumpkit::exec::{run_case, CaseOptions, CaseResult, Scenario};
use rumpkit::suite::{self, Seeds};

#[derive(Parser, Debug)]
#[command(
    name = "rumpkit",
    version,
    about = "Test kernel drivers on a deterministic, fault-injecting rump kernel"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run scenario scripts over seed ranges (default: the bundled suite).
    Run(RunArgs),
    /// Run one case again, print its calls and its trace hash.
    Replay(ReplayArgs),
    /// Reduce a failing script to the lines that make it fail.
    Shrink(ShrinkArgs),
    /// Measure boot+halt, a 20-call case, context switches and schedule
    /// exploration (side by side with shuttle).
    Bench(rumpkit::bench::BenchArgs),
    /// Convert a fuzz input (a crash, a corpus file) into a scenario script.
    FuzzToScenario(FuzzToScenarioArgs),
    /// Parse and check scripts without running them.
    Check {
        /// Scripts or directories (default: the bundled suite).
        paths: Vec<PathBuf>,
    },
}

#[derive(clap::Args, Debug)]
struct RunArgs {
    /// Scripts or directories searched for `*.scn` (default: `scenarios/`).
    paths: Vec<PathBuf>,
    /// Run seeds 0..N of every scenario (default: `RUMPKIT_SEEDS`, the
    /// script's `seeds`, or 16).
    #[arg(long, conflicts_with = "seed")]
    seeds: Option<u64>,
    /// Run only this seed.
    #[arg(long)]
    seed: Option<u64>,
    /// Print one JSON object per case per line instead of the progress bar.
    #[arg(long)]
    json: bool,
    /// OS threads running cases (default: `RUMPKIT_JOBS` or the cores).
    #[arg(long, short)]
    jobs: Option<usize>,
    /// After the run, run every script's file-system calls on the host (Linux)
    /// too and compare them with the kernel's, at seed 0.
    #[arg(long)]
    diff_host: bool,
}

#[derive(clap::Args, Debug)]
struct ReplayArgs {
    /// The script.
    file: PathBuf,
    /// The seed to replay.
    #[arg(long)]
    seed: u64,
    /// Write the run as Chrome trace-event JSON (open in ui.perfetto.dev).
    #[arg(long, value_name = "FILE.json")]
    trace_out: Option<PathBuf>,
    /// Print only the summary, not every call.
    #[arg(long, short)]
    quiet: bool,
}

#[derive(clap::Args, Debug)]
struct ShrinkArgs {
    /// The failing script.
    file: PathBuf,
    /// The seed it fails with.
    #[arg(long)]
    seed: u64,
    /// Where to write the minimal script (default: FILE with `.min.scn`).
    #[arg(long, short)]
    output: Option<PathBuf>,
}

#[derive(clap::Args, Debug)]
struct FuzzToScenarioArgs {
    /// The fuzz target the input is for (`syscalls` or `block_io`).
    target: String,
    /// The input file (e.g. `fuzz/artifacts/syscalls/crash-...`).
    input: PathBuf,
    /// Write the script here (default: standard output). Drop it into
    /// `scenarios/` to make the finding a regression test.
    #[arg(long, short)]
    output: Option<PathBuf>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => run(args),
        Command::Replay(args) => replay(args),
        Command::Shrink(args) => shrink(args),
        Command::Check { paths } => check(&paths),
        Command::FuzzToScenario(args) => fuzz_to_scenario(args),
        Command::Bench(args) => rumpkit::bench::run_cli(&args).map(|()| ExitCode::SUCCESS),
    };
    match result {
        Ok(code) => code,
        Err(message) => {
            eprintln!("{message}");
            ExitCode::from(2)
        }
    }
}

fn load(file: &std::path::Path) -> Result<Scenario, String> {
    let files = suite::discover(&[file.to_path_buf()])?;
    let file = files
        .first()
        .ok_or_else(|| format!("{}: not a scenario script", file.display()))?;
    file.load().map_err(|e| e.render_for_stderr())
}

fn json_line(case: &CaseResult) -> String {
    serde_json::json!({
        "scenario": case.scenario,
        "seed": case.seed,
        "outcome": if case.passed { "pass" } else { "fail" },
        "trace_hash": format!("{:#018x}", case.trace_hash),
        "platform_outcome": case.outcome,
        "steps": case.steps,
        "virtual_time_ns": case.virtual_time_ns,
        "faults_injected": case.faults_injected,
        "failure": case.failure.as_ref().map(|f| f.message.clone()),
    })
    .to_string()
}

fn run(args: RunArgs) -> Result<ExitCode, String> {
    let files = suite::discover(&args.paths)?;
    if files.is_empty() {
        return Err("no scenario scripts found".into());
    }
    let seeds = match args.seed {
        Some(seed) => Seeds::One(seed),
        None => Seeds::Range(args.seeds),
    };
    // Load and check everything first: a bad script is reported with its
    // position before anything runs.
    let mut scenarios = Vec::new();
    let mut load_errors = 0;
    for file in &files {
        match file.load() {
            Ok(scenario) => {
                let seeds = seeds.for_scenario(&scenario)?;
                scenarios.push((scenario, seeds));
            }
            Err(e) => {
                eprintln!("{}\n", e.render_for_stderr());
                load_errors += 1;
            }
        }
    }
    let total: u64 = scenarios.iter().map(|(_, s)| s.len() as u64).sum();
    let bar = if !args.json && std::io::stderr().is_terminal() {
        let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template("{bar:40} {pos}/{len} cases {elapsed} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar
    } else {
        ProgressBar::hidden()
    };
    let jobs = args.jobs.unwrap_or_else(suite::jobs);
    let json = args.json;
    let results = suite::parallel(scenarios.len(), jobs, &|index| {
        let (scenario, seeds) = &scenarios[index];
        bar.set_message(scenario.name.clone());
        let results = suite::run_seeds(scenario, seeds, &|case| {
            bar.inc(1);
            if json {
                let line = json_line(case);
                bar.suspend(|| {
                    let mut out = std::io::stdout().lock();
                    let _ = writeln!(out, "{line}");
                });
            }
        });
        // A scenario stops at its first failing seed; the seeds it skipped
        // still move the bar.
        bar.inc((seeds.len() - results.len()) as u64);
        results
    });
    bar.finish_and_clear();
    let mut passed = 0u64;
    let mut failed = 0u64;
    for ((scenario, _), results) in scenarios.iter().zip(&results) {
        for case in results {
            if case.passed {
                passed += 1;
                continue;
            }
            failed += 1;
            let repro = suite::write_repro(scenario, case).ok();
            eprintln!(
                "FAIL {}\n{}",
                scenario.name,
                suite::failure_report(scenario, case, repro.as_deref())
            );
        }
    }
    let summary = format!(
        "{passed} passed, {failed} failed ({} scenarios{})",
        scenarios.len(),
        if load_errors > 0 {
            format!(", {load_errors} scripts with errors")
        } else {
            String::new()
        }
    );
    if json {
        eprintln!("{summary}");
    } else {
        println!("{summary}");
    }
    let mismatches = if args.diff_host {
        diff_host(&scenarios)?
    } else {
        0
    };
    Ok(if failed > 0 || load_errors > 0 || mismatches > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// `run --diff-host`: diffs every scenario with the host at seed 0, prints
/// the summary and each mismatch, and returns the number of mismatches.
fn diff_host<T>(scenarios: &[(Scenario, T)]) -> Result<usize, String> {
    let (mut compared, mut calls, mut skipped) = (0, 0, 0);
    let mut mismatches = Vec::new();
    for (scenario, _) in scenarios {
        let report = rumpkit::host::diff(scenario, 0)?;
        match &report.skipped {
            Some(_) => skipped += 1,
            None => compared += 1,
        }
        calls += report.compared;
        mismatches.extend(report.mismatches);
    }
    println!(
        "diff-host: {compared} scripts compared ({calls} calls), {skipped} skipped, {} mismatches",
        mismatches.len()
    );
    for mismatch in &mismatches {
        println!("  {mismatch}");
    }
    Ok(mismatches.len())
}

fn replay(args: ReplayArgs) -> Result<ExitCode, String> {
    let scenario = load(&args.file)?;
    let options = CaseOptions {
        record_trace: args.trace_out.is_some(),
        print_panics: true,
        ..CaseOptions::default()
    };
    let case = run_case(&scenario, args.seed, &options);
    if !args.quiet {
        for line in &case.log {
            println!("{line}");
        }
        if !case.console.is_empty() {
            println!("console:");
            for line in case.console.lines() {
                println!("  {line}");
            }
        }
    }
    if let Some(path) = &args.trace_out {
        let trace = case
            .trace()
            .ok_or_else(|| "the platform recorded no trace".to_string())?;
        std::fs::write(path, trace.to_chrome_json())
            .map_err(|e| format!("{}: {e}", path.display()))?;
        println!(
            "trace written to {} (open it in https://ui.perfetto.dev)",
            path.display()
        );
    }
    if !case.passed {
        eprintln!("{}", suite::failure_report(&scenario, &case, None));
    }
    println!(
        "{} seed {}: {} ({}), trace hash {:#018x}, {} steps, {} ns virtual",
        scenario.name,
        case.seed,
        if case.passed { "pass" } else { "fail" },
        case.outcome,
        case.trace_hash,
        case.steps,
        case.virtual_time_ns
    );
    Ok(if case.passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn shrink(args: ShrinkArgs) -> Result<ExitCode, String> {
    let scenario = load(&args.file)?;
    let shrunk = rumpkit::shrink::shrink(&scenario, args.seed)?;
    let output = args
        .output
        .unwrap_or_else(|| args.file.with_extension("min.scn"));
    std::fs::write(&output, &shrunk.text).map_err(|e| format!("{}: {e}", output.display()))?;
    println!(
        "{} statements -> {} ({} runs); still fails with: {}",
        shrunk.before, shrunk.after, shrunk.runs, shrunk.failure
    );
    println!("minimal script written to {}", output.display());
    Ok(ExitCode::SUCCESS)
}

fn check(paths: &[PathBuf]) -> Result<ExitCode, String> {
    let files = suite::discover(paths)?;
    let mut bad = 0;
    for file in &files {
        if let Err(e) = file.load() {
            eprintln!("{}\n", e.render_for_stderr());
            bad += 1;
        }
    }
    println!("{} scripts checked, {bad} with errors", files.len());
    Ok(if bad > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn fuzz_to_scenario(args: FuzzToScenarioArgs) -> Result<ExitCode, String> {
    let data = std::fs::read(&args.input).map_err(|e| format!("{}: {e}", args.input.display()))?;
    let text = rumpkit::fuzzing::to_scenario(&args.target, &data)?;
    let name = args
        .output
        .as_ref()
        .unwrap_or(&args.input)
        .display()
        .to_string();
    // The script must load: a converter bug shows here, not in the suite.
    Scenario::from_source("fuzz", &name, &text).map_err(|e| e.render_for_stderr())?;
    match &args.output {
        Some(path) => {
            std::fs::write(path, &text).map_err(|e| format!("{}: {e}", path.display()))?;
            eprintln!("scenario written to {}", path.display());
        }
        None => print!("{text}"),
    }
    Ok(ExitCode::SUCCESS)
}
