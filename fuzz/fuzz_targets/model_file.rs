//! A model or classifier file from a stranger: parsing and loading never panic.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    ganscope_model::fuzzing::model_file(data);
});
