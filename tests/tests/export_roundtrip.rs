//! A trained run exported to a model file renders, through the model crate's loader, exactly
//! what the trainer's own generator renders (BatchNorm statistics, names and the RPGAN
//! constant all carried over).

use candle_core::Device;
use ganscope_model::candle_backend::{load_candle, CandleBackend};
use ganscope_model::config::{Family, Rpgan};
use ganscope_model::intervention::{Interventions, Resolved};
use ganscope_model::sample::{render, Batch};
use ganscope_train::export::{export_bytes, ExportOptions};
use ganscope_train::options::TrainOptions;
use ganscope_train::run::{open, train};

#[test]
fn exported_file_renders_like_the_trainer() {
    for (arch, rpgan, channels) in [
        (Family::Dcgan, Some(Rpgan::new(4, 3)), 1),
        (Family::SnResnet, None, 3),
    ] {
        let dir = tempfile::tempdir().expect("tmp");
        let o = TrainOptions {
            colored: channels == 3,
            limit: Some(128),
            arch,
            channels,
            width: 4,
            d_width: 4,
            latent_dim: 16,
            rpgan,
            steps: 2,
            batch: 8,
            seed: 3,
            checkpoint_every: 2,
            sample_every: 2,
            log_every: 1,
            ..TrainOptions::default()
        };
        let mut tr = open(o, dir.path(), false, None).expect("open");
        train(&mut tr, dir.path(), &mut |_| {}).expect("train");
        let want = tr
            .fake(0, 5, false)
            .expect("trainer render")
            .flatten_all()
            .and_then(|t| t.to_vec1::<f32>())
            .expect("v");

        let (_, bytes) = export_bytes(
            dir.path(),
            ExportOptions {
                f16: false,
                ema: true,
                discriminator: true,
            },
        )
        .expect("export");
        let m = load_candle(&bytes, &Device::Cpu).expect("load");
        let iv = Interventions::default();
        let batch = Batch::new(&m.generator.config, 0, 5, &iv).expect("batch");
        let r = Resolved::new(&m.generator.config, &iv).expect("resolve");
        let got = render(
            &m.generator,
            &CandleBackend::cpu(),
            &batch,
            &r,
            &mut |_, _| Ok(()),
        )
        .and_then(|t| Ok(t.flatten_all()?.to_vec1::<f32>()?))
        .expect("render");
        assert!(
            got == want,
            "{arch:?}: the exported model renders differently from the trainer"
        );
    }
}
