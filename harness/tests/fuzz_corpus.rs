//! Replays every saved fuzz input — the seed corpora in `fuzz/corpus/<target>/`
//! and the inputs of past findings in `fuzz/regressions/<target>/` — through
//! the target bodies in `rumpkit::fuzzing`, on stable Rust and without
//! cargo-fuzz, so that CI runs them all. A finding that comes back panics
//! here with the target's message.

use std::path::{Path, PathBuf};

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz")
}

/// The files of `fuzz/<kind>/<target>/`, sorted; none if it does not exist.
fn inputs(kind: &str, target: &str) -> Vec<PathBuf> {
    let dir = fuzz_dir().join(kind).join(target);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    files
}

fn replay(kind: &str) -> usize {
    let mut count = 0;
    for target in rumpkit::fuzzing::TARGETS {
        let body = rumpkit::fuzzing::target(target).expect("every listed target has a body");
        for path in inputs(kind, target) {
            let data = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            eprintln!("replaying {}", path.display());
            body(&data);
            count += 1;
        }
    }
    count
}

#[test]
fn seed_corpora_replay_clean() {
    let count = replay("corpus");
    assert!(
        count >= 4 * 3,
        "only {count} seed inputs found under fuzz/corpus"
    );
}

#[test]
fn regressions_replay_clean() {
    replay("regressions");
}

#[test]
fn every_target_has_a_seed_corpus() {
    for target in rumpkit::fuzzing::TARGETS {
        assert!(
            !inputs("corpus", target).is_empty(),
            "fuzz/corpus/{target}/ is empty"
        );
    }
}

/// Inputs of syscalls and block_io findings convert into scenario scripts
/// that the kernel's call table accepts.
#[test]
fn regressions_convert_to_scenarios() {
    use rumpkit_scenario::{check, parse};
    for target in ["syscalls", "block_io"] {
        for path in inputs("regressions", target)
            .into_iter()
            .chain(inputs("corpus", target))
        {
            let data = std::fs::read(&path).unwrap();
            let text = rumpkit::fuzzing::to_scenario(target, &data)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let script = parse("converted.scn", &text)
                .unwrap_or_else(|e| panic!("{}: {e}\n{text}", path.display()));
            check(&script, &rumpkit::table::KernelTable)
                .unwrap_or_else(|e| panic!("{}: {e}\n{text}", path.display()));
        }
    }
}
