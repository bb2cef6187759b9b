//! The bodies of the fuzz targets (`fuzz/`), shared with the test that replays their corpus
//! (`crates/model/tests/fuzz_corpus.rs`) so CI runs every saved input as a plain test. Each
//! takes arbitrary bytes and must return without panicking, whatever they hold.

use crate::candle_backend::load_candle;
use crate::classifier::{parse_classifier, Classifier};
use crate::config::{Family, GeneratorConfig, Rpgan};
use crate::format::ModelFile;
use crate::intervention::{Interventions, Resolved};
use crate::sample::Batch;

/// A model or classifier file: parse, and load what parses (tensors checked, weights read).
pub fn model_file(data: &[u8]) {
    if let Ok(f) = ModelFile::parse(data) {
        for name in f.tensors.keys() {
            let _ = f.data(name);
        }
        let _ = load_candle(data, &candle_core::Device::Cpu);
    }
    if parse_classifier(data).is_ok() {
        let _ = Classifier::load(data);
    }
}

/// An intervention JSON (as the CLI file and the page's URL state carry it), resolved
/// against a 4-bucket RPGAN and a standard GAN, with a batch built for it.
pub fn interventions(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(iv) = Interventions::from_json(text) else {
        return;
    };
    for rpgan in [Some(Rpgan::new(4, 8)), None] {
        let Ok(cfg) = GeneratorConfig::new(Family::Dcgan, 32, 3, 8, rpgan) else {
            return;
        };
        if Resolved::new(&cfg, &iv).is_ok() {
            if let Ok(b) = Batch::new(&cfg, 1, 3, &iv) {
                let _ = b.check();
            }
        }
    }
}
