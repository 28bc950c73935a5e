//! Parses and checks `.scn` files against the test-double call table and
//! prints their diagnostics, or their canonical form with `--print`.
//!
//! ```text
//! cargo run -p rumpkit-scenario --example scn-check -- [--print] FILE...
//! ```

use std::process::ExitCode;

use rumpkit_scenario::{parse_and_check, print, testing::PosixTable};

fn main() -> ExitCode {
    let mut print_canonical = false;
    let mut failed = false;
    for arg in std::env::args().skip(1) {
        if arg == "--print" {
            print_canonical = true;
            continue;
        }
        let source = match std::fs::read_to_string(&arg) {
            Ok(source) => source,
            Err(error) => {
                eprintln!("error: cannot read {arg}: {error}");
                failed = true;
                continue;
            }
        };
        match parse_and_check(&arg, &source, &PosixTable) {
            Ok(script) if print_canonical => print!("{}", print(&script)),
            Ok(_) => {}
            Err(diagnostics) => {
                eprintln!("{}\n", diagnostics.render_for_stderr());
                failed = true;
            }
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
