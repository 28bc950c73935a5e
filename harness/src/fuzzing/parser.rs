//! The `scenario_parser` target: arbitrary text into the scenario front end.
//!
//! Inputs are cut at [`SCRIPT_MAX`] bytes. Checks: `parse` and `check`
//! (against the crate's `PosixTable` double and the kernel's own table)
//! never panic; a script that parses prints to text
//! that parses again to the same tree (spans aside), prints the same way a
//! second time, and checks the same way.

use rumpkit_scenario::testing::PosixTable;
use rumpkit_scenario::{check, parse, print, CallTable};

use crate::table::KernelTable;

/// The longest script looked at: the language is line-based, so longer
/// inputs mostly repeat what shorter ones already cover, at a cost.
pub const SCRIPT_MAX: usize = 2048;

/// The `scenario_parser` fuzz target.
pub fn scenario_parser(data: &[u8]) {
    let text = String::from_utf8_lossy(&data[..data.len().min(SCRIPT_MAX)]);
    let Ok(mut script) = parse("fuzz.scn", &text) else {
        return;
    };
    let tables: [&dyn CallTable; 2] = [&PosixTable, &KernelTable];
    let verdicts: Vec<bool> = tables
        .iter()
        .map(|table| check(&script, *table).is_ok())
        .collect();
    let printed = print(&script);
    let mut again = match parse("printed.scn", &printed) {
        Ok(again) => again,
        Err(errors) => panic!(
            "scenario_parser: the printed script does not parse:\n{errors}\n--- input\n{text}\n--- printed\n{printed}"
        ),
    };
    script.erase_spans();
    again.erase_spans();
    assert!(
        script.stmts == again.stmts,
        "scenario_parser: print -> parse changed the tree\n--- input\n{text}\n--- printed\n{printed}\n--- before\n{:?}\n--- after\n{:?}",
        script.stmts,
        again.stmts
    );
    let reprinted = print(&again);
    assert!(
        reprinted == printed,
        "scenario_parser: printing is not stable\n--- first\n{printed}\n--- second\n{reprinted}"
    );
    for (table, verdict) in tables.iter().zip(verdicts) {
        assert_eq!(
            check(&again, *table).is_ok(),
            verdict,
            "scenario_parser: the printed script checks differently\n--- printed\n{printed}"
        );
    }
}
