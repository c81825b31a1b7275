#![no_main]
//! See `doelpoort::fuzzing::traceparent` for what is parsed and which promises are checked.
libfuzzer_sys::fuzz_target!(|data: &[u8]| doelpoort::fuzzing::traceparent(data));
