#![no_main]
//! See `doelpoort::fuzzing::haalcentraal_vraag` for what is parsed and which promises are checked.
libfuzzer_sys::fuzz_target!(|data: &[u8]| doelpoort::fuzzing::haalcentraal_vraag(data));
