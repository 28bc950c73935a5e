//! Golden snapshots of the bundled suite: for every scenario under
//! `scenarios/`, what its run at seed 0 shows a person (the verdict, the
//! platform's outcome, every call with its result, the kernel's console),
//! compared with `golden/<dir>__<name>.snap` through insta. Trace hashes,
//! step counts and virtual time are left out: they change with any change
//! to the platform's internals, while the calls and the console only change
//! when behaviour does.
//!
//! A changed or missing snapshot fails the test unless insta is told to
//! write (`INSTA_UPDATE=always`, or `cargo insta review`); CI runs with
//! `INSTA_UPDATE=no`. `cargo xtask golden --accept` rewrites them; see
//! `golden/README.md`.
//!
//! Besides one test per scenario there are two checks of the check itself:
//! a changed scenario's output must not match its snapshot, and every
//! snapshot must still have its scenario.

use std::path::{Path, PathBuf};

use insta::internals::{SnapshotContents, TextSnapshotContents};
use insta::TextSnapshotKind;
use libtest_mimic::{Arguments, Failed, Trial};
use rumpkit::exec::{run_case, CaseOptions, Scenario};
use rumpkit::suite::{self, ScenarioFile};

/// The seed every snapshot is taken at.
const SEED: u64 = 0;

/// Where the snapshots are.
fn golden_dir() -> PathBuf {
    suite::repo_root().join("golden")
}

/// The snapshot name of a scenario: `vfs/basic_io` is `vfs__basic_io`.
fn snapshot_name(scenario: &str) -> String {
    scenario.replace('/', "__")
}

/// Loads a scenario under its repository-relative file name, so that
/// messages in the snapshot do not depend on where the test runs.
fn load(path: &Path, name: &str) -> Result<Scenario, String> {
    let source = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let shown = path
        .strip_prefix(suite::repo_root())
        .map_or_else(|_| path.display().to_string(), |p| p.display().to_string());
    Scenario::from_source(name, &shown, &source).map_err(|e| e.to_string())
}

/// What the snapshot of `scenario` holds.
fn render(scenario: &Scenario) -> String {
    let case = run_case(scenario, SEED, &CaseOptions::default());
    let mut text = format!(
        "scenario: {}\nfile: {}\nseed: {SEED}\nresult: {}\noutcome: {}\n",
        scenario.name,
        scenario.file_name,
        if case.passed { "pass" } else { "FAIL" },
        case.outcome
    );
    if let Some(failure) = &case.failure {
        text.push_str("failure:\n");
        for line in failure.message.lines() {
            text.push_str(&format!("  {line}\n"));
        }
    }
    text.push_str("\ncalls:\n");
    for line in &case.log {
        text.push_str(&format!("  {line}\n"));
    }
    if case.console.is_empty() {
        text.push_str("\nconsole: (empty)\n");
    } else {
        text.push_str("\nconsole:\n");
    }
    for line in case.console.lines() {
        text.push_str(&format!("  {line}\n"));
    }
    text
}

/// Whether `text` matches the snapshot stored at `snap` by insta's own
/// rules (`Err` when there is no readable snapshot).
fn matches_stored(snap: &Path, text: &str) -> Result<bool, String> {
    let stored = insta::Snapshot::from_file(snap)
        .map_err(|e| format!("no snapshot at {}: {e}", snap.display()))?;
    let fresh = SnapshotContents::Text(TextSnapshotContents::new(
        text.to_string(),
        TextSnapshotKind::File,
    ));
    Ok(stored.contents() == &fresh)
}

/// One scenario against its snapshot, through insta (so `cargo insta
/// review` and `INSTA_UPDATE` work as usual).
fn check(file: &ScenarioFile) -> Result<(), Failed> {
    let scenario = load(&file.path, &file.name)?;
    let text = render(&scenario);
    let input = file
        .path
        .strip_prefix(suite::repo_root())
        .unwrap_or(&file.path)
        .to_path_buf();
    insta::with_settings!({
        snapshot_path => golden_dir(),
        prepend_module_to_snapshot => false,
        omit_expression => true,
        input_file => input,
    }, {
        insta::assert_snapshot!(snapshot_name(&file.name), text);
    });
    Ok(())
}

/// The golden check catches a change: a scenario's snapshot is taken in a
/// temporary directory, then the scenario (a temporary copy) gets one more
/// call, and its new output must no longer match. The real snapshot of the
/// same scenario, when there is one, must not match the changed output
/// either.
fn a_changed_output_fails_the_check(files: &[ScenarioFile]) -> Result<(), Failed> {
    let file = files
        .iter()
        .find(|f| f.name == "vfs/basic_io")
        .or_else(|| files.first())
        .ok_or("the suite is empty")?;
    let temp = tempfile::tempdir().map_err(|e| e.to_string())?;
    let copy = temp.path().join("copy.scn");
    let source = std::fs::read_to_string(&file.path).map_err(|e| e.to_string())?;
    std::fs::write(&copy, &source).map_err(|e| e.to_string())?;
    let original = render(&load(&copy, &file.name)?);

    // A snapshot file as insta writes one.
    let snap = temp.path().join("copy.snap");
    std::fs::write(
        &snap,
        format!("---\nsource: harness/tests/golden.rs\n---\n{original}"),
    )
    .map_err(|e| e.to_string())?;
    if !matches_stored(&snap, &original)? {
        return Err("the unchanged output does not match its own snapshot".into());
    }

    // One more call before the end (before `halt` if there is one).
    let extra = "nanosleep 1ms\n";
    let changed_source = match source.rfind("\nhalt") {
        Some(at) => format!("{}\n{extra}{}", &source[..at], &source[at + 1..]),
        None => format!("{source}\n{extra}"),
    };
    std::fs::write(&copy, changed_source).map_err(|e| e.to_string())?;
    let changed = render(&load(&copy, &file.name)?);
    if matches_stored(&snap, &changed)? {
        return Err(
            format!("a changed scenario output matched the old snapshot:\n{changed}").into(),
        );
    }
    let real = golden_dir().join(format!("{}.snap", snapshot_name(&file.name)));
    if real.exists() && matches_stored(&real, &changed)? {
        return Err(format!("{} matched a changed output", real.display()).into());
    }
    Ok(())
}

/// Every snapshot belongs to a scenario (a removed or renamed scenario's
/// snapshot must go too). When insta is told to write every snapshot
/// (`INSTA_UPDATE=always`, as `cargo xtask golden --accept` does), stale
/// ones are deleted instead.
fn no_stale_snapshots(files: &[ScenarioFile]) -> Result<(), Failed> {
    let Ok(entries) = std::fs::read_dir(golden_dir()) else {
        return Ok(());
    };
    let mut stale = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(stem) = name.strip_suffix(".snap") else {
            continue;
        };
        if !files.iter().any(|f| snapshot_name(&f.name) == stem) {
            stale.push(format!("golden/{name}"));
        }
    }
    if std::env::var("INSTA_UPDATE").is_ok_and(|v| v == "always") {
        for name in &stale {
            let path = suite::repo_root().join(name);
            std::fs::remove_file(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            eprintln!("deleted stale snapshot {name}");
        }
        return Ok(());
    }
    if stale.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "snapshots without a scenario (delete them): {}",
            stale.join(", ")
        )
        .into())
    }
}

fn main() {
    let args = Arguments::from_args();
    let files = suite::discover(&[]).unwrap_or_else(|e| {
        eprintln!("cannot list the scenario suite: {e}");
        std::process::exit(2)
    });
    let mut trials: Vec<Trial> = files
        .iter()
        .cloned()
        .map(|file| Trial::test(file.name.clone(), move || check(&file)))
        .collect();
    let all = files.clone();
    trials.push(Trial::test(
        "golden_check/a_changed_output_fails",
        move || a_changed_output_fails_the_check(&all),
    ));
    trials.push(Trial::test("golden_check/no_stale_snapshots", move || {
        no_stale_snapshots(&files)
    }));
    libtest_mimic::run(&args, trials).exit();
}
