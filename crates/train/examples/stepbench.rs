//! Times the phases of one training step on the CPU (MNIST-sized DCGAN, batch 64):
//! `cargo run -p ganscope-train --example stepbench [-- --rpgan]`.
use candle_core::{Device, Tensor};
use ganscope_data::Dataset;
use ganscope_model::candle_backend::CandleBackend;
use ganscope_model::discriminator::Discriminator;
use ganscope_train::options::TrainOptions;
use ganscope_train::spectral::SpectralSource;
use ganscope_train::trainer::Trainer;
use std::time::Instant;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let rpgan = args.iter().any(|a| a == "--rpgan");
    let data = Dataset {
        name: "noise".into(),
        size: 32,
        channels: 3,
        pixels: vec![7; 512 * 3 * 32 * 32],
        labels: vec![0; 512],
        classes: vec!["0".into()],
    };
    let opts = TrainOptions {
        colored: true,
        channels: 3,
        d_width: 16,
        rpgan: rpgan.then_some((4, 8)),
        ..TrainOptions::default()
    };
    let mut tr = Trainer::new(opts, data)?;
    let be = CandleBackend {
        device: Device::Cpu,
        train: true,
    };
    let t = |name: &str, f: &mut dyn FnMut() -> anyhow::Result<()>| -> anyhow::Result<()> {
        f()?;
        let s = Instant::now();
        for _ in 0..3 {
            f()?;
        }
        println!(
            "{name:<36} {:8.1} ms",
            s.elapsed().as_secs_f64() * 1e3 / 3.0
        );
        Ok(())
    };
    t("G forward (train, B64)", &mut || {
        tr.fake(1, 64, true)?;
        Ok(())
    })?;
    t("G forward+backward (B64)", &mut || {
        tr.fake(1, 64, true)?.sqr()?.sum_all()?.backward()?;
        Ok(())
    })?;
    let x = Tensor::randn(0f32, 1., (128, 3, 32, 32), &Device::Cpu)?;
    let dcfg = tr.dcfg.clone();
    t("D build (spectral norm)", &mut || {
        Discriminator::new(
            &dcfg,
            &mut SpectralSource {
                store: &mut tr.store,
                update: true,
            },
        )?;
        Ok(())
    })?;
    let d = Discriminator::new(
        &dcfg,
        &mut SpectralSource {
            store: &mut tr.store,
            update: true,
        },
    )?;
    t("D forward (B128)", &mut || {
        d.forward(&be, &x)?;
        Ok(())
    })?;
    t("D forward+backward (B128)", &mut || {
        d.forward(&be, &x)?.0.sum_all()?.backward()?;
        Ok(())
    })?;
    t("diversity term", &mut || {
        tr.diversity_term(3)?;
        Ok(())
    })?;
    t("whole train step", &mut || {
        tr.train_step()?;
        Ok(())
    })?;
    Ok(())
}
