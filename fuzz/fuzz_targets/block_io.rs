//! The `block_io` fuzz target; its body is `rumpkit::fuzzing::block_io`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| rumpkit::fuzzing::block_io(data));
