//! The `raw_syscalls` fuzz target; its body is `rumpkit::fuzzing::raw_syscalls`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| rumpkit::fuzzing::raw_syscalls(data));
