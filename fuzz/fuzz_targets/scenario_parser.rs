//! The `scenario_parser` fuzz target; its body is `rumpkit::fuzzing::scenario_parser`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| rumpkit::fuzzing::scenario_parser(data));
