//! The bundled scenario suite as tests: one test per `.scn` file under
//! `scenarios/`, named after its path (`vfs/rename_replace`), each run over
//! its seed range (`RUMPKIT_SEEDS`, else the script's `seeds`, else 16).
//! Works with `cargo nextest run` (including `--partition`) and with
//! `cargo test`.

use libtest_mimic::{Arguments, Failed, Trial};
use rumpkit::suite::{self, ScenarioFile, Seeds};

fn run(file: &ScenarioFile) -> Result<(), Failed> {
    let scenario = file.load().map_err(|e| Failed::from(e.to_string()))?;
    let seeds = Seeds::Range(None).for_scenario(&scenario)?;
    let results = suite::run_seeds(&scenario, &seeds, &|_| {});
    match results.iter().find(|case| !case.passed) {
        Some(case) => {
            let repro = suite::write_repro(&scenario, case).ok();
            Err(suite::failure_report(&scenario, case, repro.as_deref()).into())
        }
        None => Ok(()),
    }
}

fn main() {
    let args = Arguments::from_args();
    let files = suite::discover(&[]).unwrap_or_else(|e| {
        eprintln!("cannot list the scenario suite: {e}");
        std::process::exit(2)
    });
    let trials = files
        .into_iter()
        .map(|file| Trial::test(file.name.clone(), move || run(&file)))
        .collect();
    libtest_mimic::run(&args, trials).exit();
}
