//! A PyTorch checkpoint or safetensors state dict from a stranger: `ganscope import` never
//! panics, runs nothing and allocates no more than the file's size per tensor.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    ganscope_import::fuzz_checkpoint(data);
});
