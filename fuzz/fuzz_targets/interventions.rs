//! An intervention JSON (CLI file, page URL state): parsing and resolving never panic.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    ganscope_model::fuzzing::interventions(data);
});
