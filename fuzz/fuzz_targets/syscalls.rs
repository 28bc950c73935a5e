//! The `syscalls` fuzz target; its body is `rumpkit::fuzzing::syscalls`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| rumpkit::fuzzing::syscalls(data));
