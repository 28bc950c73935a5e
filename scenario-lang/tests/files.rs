//! Snapshot tests over the scripts in `tests/good` and `tests/bad`.
//!
//! Each good script must parse and check cleanly; its snapshot is its
//! canonical printed form, which must parse back to the same tree. Each bad
//! script must fail; its snapshot is the exact rendered diagnostics (syntax
//! errors, or, if it parses, checker errors).

use std::path::Path;

use rumpkit_scenario::{check, parse, print, testing::PosixTable};

/// A stable name for diagnostics, independent of where the tests run.
fn display_name(path: &Path) -> String {
    let parent = path.parent().and_then(Path::file_name).unwrap_or_default();
    let file = path.file_name().unwrap_or_default();
    format!("{}/{}", parent.to_string_lossy(), file.to_string_lossy())
}

#[test]
fn good_scripts_check_and_print_canonically() {
    insta::glob!("good/*.scn", |path| {
        let source = std::fs::read_to_string(path).unwrap();
        let name = display_name(path);
        let script = parse(&name, &source).unwrap_or_else(|e| panic!("{e}"));
        check(&script, &PosixTable).unwrap_or_else(|e| panic!("{e}"));
        let printed = print(&script);

        let mut reparsed = parse(&name, &printed).unwrap_or_else(|e| panic!("{e}\n{printed}"));
        let mut original = script.clone();
        original.erase_spans();
        reparsed.erase_spans();
        assert_eq!(original.stmts, reparsed.stmts, "round trip of {name}");
        // Printing is idempotent: canonical text prints as itself.
        assert_eq!(print(&reparsed), printed);

        insta::assert_snapshot!(printed);
    });
}

#[test]
fn bad_scripts_give_exact_diagnostics() {
    insta::glob!("bad/*.scn", |path| {
        let source = std::fs::read_to_string(path).unwrap();
        let name = display_name(path);
        let diagnostics = match parse(&name, &source) {
            Err(diagnostics) => diagnostics,
            Ok(script) => match check(&script, &PosixTable) {
                Err(diagnostics) => diagnostics,
                Ok(()) => panic!("{name} was expected to fail but checks cleanly"),
            },
        };
        assert!(
            diagnostics.len() >= 2,
            "{name}: every bad file tests several errors, got {}",
            diagnostics.len()
        );
        insta::assert_snapshot!(diagnostics.to_string());
    });
}
