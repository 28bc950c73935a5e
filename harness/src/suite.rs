//! Running scenarios over seed ranges: finding `.scn` files, the seed count
//! (`RUMPKIT_SEEDS`, the script's `seeds`, 16), running cases on a few OS
//! threads, and turning a failure into a report with the exact commands that
//! replay it and a repro script under `target/rumpkit/failures/`.

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use crate::exec::{run_case, CaseOptions, CaseResult, LoadError, Scenario};

/// Seeds per scenario when neither `RUMPKIT_SEEDS` nor the script says.
pub const DEFAULT_SEEDS: u64 = 16;

/// The repository root (where the workspace `Cargo.toml` is).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// The bundled suite: `scenarios/` in the repository.
pub fn suite_root() -> PathBuf {
    repo_root().join("scenarios")
}

/// The Cargo target directory (`CARGO_TARGET_DIR`, else `target/`).
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => repo_root().join("target"),
    }
}

/// `RUMPKIT_SEEDS`, if set to a positive number.
pub fn seeds_from_env() -> Result<Option<u64>, String> {
    match std::env::var("RUMPKIT_SEEDS") {
        Ok(text) => match text.trim().parse::<u64>() {
            Ok(n) if n > 0 => Ok(Some(n)),
            _ => Err(format!(
                "RUMPKIT_SEEDS must be a positive number, not {text:?}"
            )),
        },
        Err(_) => Ok(None),
    }
}

/// A `.scn` file and the name of its test.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioFile {
    /// Where it is.
    pub path: PathBuf,
    /// Its name: the path below the suite root (or below the directory it
    /// was found in) without `.scn`, with `/` separators.
    pub name: String,
}

impl ScenarioFile {
    /// Loads the scenario.
    pub fn load(&self) -> Result<Scenario, LoadError> {
        Scenario::load(&display_path(&self.path), self.name.clone())
    }
}

/// `path` relative to the current directory when it is below it, so that
/// messages and commands stay short.
pub fn display_path(path: &Path) -> PathBuf {
    let cwd = std::env::current_dir().unwrap_or_default();
    path.strip_prefix(&cwd)
        .map(Path::to_path_buf)
        .unwrap_or_else(|_| path.to_path_buf())
}

fn name_below(path: &Path, root: &Path) -> Option<String> {
    let rel = path.strip_prefix(root).ok()?.with_extension("");
    let parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    Some(parts.join("/"))
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut entries: Vec<_> = fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        if entry.file_type()?.is_dir() {
            walk(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "scn") {
            out.push(path);
        }
    }
    Ok(())
}

/// The scripts named by `paths` (files, or directories searched
/// recursively for `*.scn`), sorted by name; the bundled suite when
/// `paths` is empty.
pub fn discover(paths: &[PathBuf]) -> Result<Vec<ScenarioFile>, String> {
    let suite = suite_root().canonicalize().unwrap_or_else(|_| suite_root());
    let defaulted = [suite.clone()];
    let paths = if paths.is_empty() {
        &defaulted[..]
    } else {
        paths
    };
    let mut found = Vec::new();
    for path in paths {
        let abs = if path.is_absolute() {
            path.clone()
        } else {
            std::env::current_dir()
                .map_err(|e| e.to_string())?
                .join(path)
        };
        let abs = abs
            .canonicalize()
            .map_err(|e| format!("{}: {e}", path.display()))?;
        let meta = fs::metadata(&abs).map_err(|e| format!("{}: {e}", path.display()))?;
        if meta.is_dir() {
            let mut files = Vec::new();
            walk(&abs, &mut files).map_err(|e| format!("{}: {e}", path.display()))?;
            for file in files {
                let name = name_below(&file, &suite)
                    .or_else(|| name_below(&file, &abs))
                    .unwrap_or_else(|| file.display().to_string());
                found.push(ScenarioFile { path: file, name });
            }
        } else {
            let name = name_below(&abs, &suite).unwrap_or_else(|| {
                abs.file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default()
            });
            found.push(ScenarioFile { path: abs, name });
        }
    }
    found.sort_by(|a, b| a.name.cmp(&b.name).then(a.path.cmp(&b.path)));
    found.dedup();
    Ok(found)
}

/// The seeds a run uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seeds {
    /// Seeds `0..n` for each scenario; `None` for the scenario's own count
    /// (`RUMPKIT_SEEDS`, else its `seeds` directive, else 16).
    Range(Option<u64>),
    /// Exactly this seed.
    One(u64),
}

impl Seeds {
    /// The seeds for `scenario`.
    pub fn for_scenario(self, scenario: &Scenario) -> Result<Vec<u64>, String> {
        Ok(match self {
            Seeds::One(seed) => vec![seed],
            Seeds::Range(Some(n)) => (0..n).collect(),
            Seeds::Range(None) => {
                let n = match seeds_from_env()? {
                    Some(n) => n,
                    None => scenario.seed_count(DEFAULT_SEEDS),
                };
                (0..n).collect()
            }
        })
    }
}

/// Runs `scenario` over `seeds`, stopping at the first failing seed.
/// Returns every case run.
pub fn run_seeds(
    scenario: &Scenario,
    seeds: &[u64],
    on_case: &dyn Fn(&CaseResult),
) -> Vec<CaseResult> {
    let mut results = Vec::new();
    for &seed in seeds {
        let result = run_case(scenario, seed, &CaseOptions::default());
        on_case(&result);
        let failed = !result.passed;
        results.push(result);
        if failed {
            break;
        }
    }
    results
}

/// Runs `work(i)` for `i in 0..count` on up to `jobs` OS threads (each
/// simulation runs on the thread that made it) and returns the results in
/// index order.
pub fn parallel<T: Send>(count: usize, jobs: usize, work: &(dyn Fn(usize) -> T + Sync)) -> Vec<T> {
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<T>>> = Mutex::new((0..count).map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..jobs.clamp(1, count.max(1)) {
            scope.spawn(|| loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                if index >= count {
                    break;
                }
                let value = work(index);
                results.lock().unwrap_or_else(|e| e.into_inner())[index] = Some(value);
            });
        }
    });
    results
        .into_inner()
        .unwrap_or_else(|e| e.into_inner())
        .into_iter()
        .map(|v| v.expect("every index ran"))
        .collect()
}

/// The number of worker threads: `RUMPKIT_JOBS`, else the cores.
pub fn jobs() -> usize {
    std::env::var("RUMPKIT_JOBS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n: &usize| n > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// The command that replays a case.
pub fn replay_command(scenario: &Scenario, seed: u64) -> String {
    format!(
        "cargo run -p rumpkit -- replay {} --seed {seed}",
        shell_quote(&scenario.file_name)
    )
}

/// Whether the scenario's file is part of the bundled suite (and so a test
/// of the `scenarios` test target).
pub fn in_suite(scenario: &Scenario) -> bool {
    let path = Path::new(&scenario.file_name);
    let abs = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir().unwrap_or_default().join(path)
    };
    match (abs.canonicalize(), suite_root().canonicalize()) {
        (Ok(file), Ok(root)) => file.starts_with(root),
        _ => false,
    }
}

/// The nextest invocation that runs the scenario's test.
pub fn nextest_command(scenario: &Scenario, seed: u64) -> String {
    format!(
        "RUMPKIT_SEEDS={} cargo nextest run -p rumpkit --test scenarios -E 'test(={})'",
        seed + 1,
        scenario.name
    )
}

fn shell_quote(text: &str) -> String {
    if text
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"/._-+".contains(&b))
    {
        text.to_string()
    } else {
        format!("'{}'", text.replace('\'', "'\\''"))
    }
}

/// Writes a repro script for a failed case under
/// `target/rumpkit/failures/`: the scenario's text with a header saying
/// what failed and how to replay it. Never overwrites an existing file
/// (a concurrent run's repro gets its own name).
pub fn write_repro(scenario: &Scenario, case: &CaseResult) -> std::io::Result<PathBuf> {
    let dir = target_dir().join("rumpkit").join("failures");
    fs::create_dir_all(&dir)?;
    let stem = format!(
        "{}-seed{}",
        scenario.name.replace(['/', '\\'], "-"),
        case.seed
    );
    for attempt in 0u32.. {
        let file = if attempt == 0 {
            dir.join(format!("{stem}.scn"))
        } else {
            dir.join(format!("{stem}.{attempt}.scn"))
        };
        match fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&file)
        {
            Ok(mut out) => {
                let shown = display_path(&file);
                let mut header = String::new();
                header.push_str(&format!(
                    "# Repro of {} ({}), written by rumpkit.\n",
                    scenario.name,
                    scenario.describe(case.seed)
                ));
                if let Some(failure) = &case.failure {
                    for line in failure.message.lines() {
                        header.push_str(&format!("# {line}\n"));
                    }
                }
                header.push_str(&format!(
                    "# trace hash {:#018x}\n# replay: cargo run -p rumpkit -- replay {} --seed {}\n\n",
                    case.trace_hash,
                    shell_quote(&shown.display().to_string()),
                    case.seed
                ));
                out.write_all(header.as_bytes())?;
                out.write_all(scenario.script.source.as_bytes())?;
                return Ok(shown);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    unreachable!("u32 attempts run out")
}

/// The report of a failed case: what failed, the settings, and how to
/// replay it.
pub fn failure_report(scenario: &Scenario, case: &CaseResult, repro: Option<&Path>) -> String {
    let mut text = String::new();
    match &case.failure {
        Some(failure) => text.push_str(&failure.message),
        None => text.push_str(&format!(
            "{}: expected the scenario to fail (expect-fail), but it passed",
            scenario.file_name
        )),
    }
    text.push('\n');
    text.push_str(&format!(
        "  settings: {}\n  outcome: {}, trace hash {:#018x}, {} steps, {} faults injected\n",
        scenario.describe(case.seed),
        case.outcome,
        case.trace_hash,
        case.steps,
        case.faults_injected
    ));
    text.push_str(&format!(
        "  replay:  {}\n",
        replay_command(scenario, case.seed)
    ));
    if in_suite(scenario) {
        text.push_str(&format!(
            "  nextest: {}\n",
            nextest_command(scenario, case.seed)
        ));
    }
    if let Some(repro) = repro {
        text.push_str(&format!("  repro:   {}\n", repro.display()));
    }
    if !case.log.is_empty() {
        text.push_str("  last calls:\n");
        let skip = case.log.len().saturating_sub(8);
        for line in &case.log[skip..] {
            text.push_str(&format!("    {line}\n"));
        }
    }
    text
}
