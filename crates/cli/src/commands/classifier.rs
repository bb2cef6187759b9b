//! `ganscope classifier`: trains the feature classifier of the analyses.

use anyhow::Result;
use clap::Args;
use ganscope_train::classifier::{finish, load_split, ClassifierTrainer};
use ganscope_train::options::ClassifierOptions;
use std::path::PathBuf;

/// The options of `classifier` (the library's [`ClassifierOptions`]).
#[derive(Args)]
pub struct ClassifierArgs {
    /// Training data: mnist:DIR, cifar10:DIR or folder:DIR (it needs a test split).
    /// Default: the MNIST files bundled in data/mnist.
    #[arg(long)]
    data: Option<String>,
    /// Randomly colored MNIST; the colours are drawn from seeds of their own (not the GANs'
    /// seed 0, and other ones for the test images), so colour tells nothing of the digit.
    #[arg(long)]
    colored: bool,
    /// Use only the first N training images.
    #[arg(long)]
    limit: Option<usize>,
    /// Evaluate on only the first N test images.
    #[arg(long)]
    test_limit: Option<usize>,
    /// Image side: 28, 32 or 64 (MNIST is padded to 32 by default).
    #[arg(long, default_value_t = 32)]
    size: usize,
    /// Width: the dcgan discriminator's convs have w, 2w, 4w channels (at 32x32).
    #[arg(long, default_value_t = 16)]
    width: usize,
    /// Steps in all.
    #[arg(long, default_value_t = 3000)]
    steps: u64,
    /// Batch size.
    #[arg(long, default_value_t = 128)]
    batch: usize,
    /// Adam learning rate at the start (cosine decay to a twentieth of it at the end).
    #[arg(long, default_value_t = 1e-3)]
    lr: f64,
    /// Seed of the initial weights, the data order and the colours.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// cpu, or cuda (needs a build with --features cuda).
    #[arg(long, default_value = "cpu")]
    device: String,
    /// The classifier file to write.
    #[arg(long)]
    out: PathBuf,
    /// Store tensors as f16 (half the download).
    #[arg(long)]
    f16: bool,
}

impl ClassifierArgs {
    /// The library's options.
    fn options(&self) -> ClassifierOptions {
        ClassifierOptions {
            data: self.data.clone(),
            colored: self.colored,
            limit: self.limit,
            test_limit: self.test_limit,
            size: self.size,
            width: self.width,
            steps: self.steps,
            batch: self.batch,
            lr: self.lr,
            seed: self.seed,
            device: self.device.clone(),
        }
    }
}

/// Runs `ganscope classifier`.
pub fn run(a: &ClassifierArgs) -> Result<()> {
    let opts = &a.options();
    opts.validate().map_err(anyhow::Error::msg)?;
    let data = load_split(opts, ganscope_data::Split::Train)?;
    let test = load_split(opts, ganscope_data::Split::Test)?;
    let mut tr = ClassifierTrainer::new(opts.clone(), data)?;
    eprintln!(
        "training a {}-class classifier on {} ({} images, {} test images) on {}: {} steps of batch {}, {} parameters",
        tr.config.outputs,
        tr.data.name,
        tr.data.len(),
        test.len(),
        opts.device,
        opts.steps,
        opts.batch,
        tr.store.vars.values().map(|v| v.elem_count()).sum::<usize>()
    );
    let bar = crate::progress::steps(opts.steps, 0);
    let (mut loss, mut acc) = (f32::NAN, 0.0f32);
    while tr.step < opts.steps {
        let s = tr.train_step()?;
        // running means over about the last 50 steps
        let k = if s.step == 1 { 1.0 } else { 0.02 };
        loss = if loss.is_nan() {
            s.loss
        } else {
            loss + k * (s.loss - loss)
        };
        acc += k * (s.accuracy - acc);
        bar.set_position(s.step);
        bar.set_message(format!("loss {loss:.4} batch accuracy {:.1}%", 100.0 * acc));
    }
    bar.finish();
    let (meta, bytes) = finish(&tr, &test, loss, a.f16)?;
    ganscope_model::format::write_atomic(&a.out, &bytes)?;
    let acc = meta.test_accuracy.unwrap_or(f32::NAN);
    super::print_out(&format!(
        "test accuracy: {:.2}% ({} test images)\n",
        100.0 * acc,
        test.len()
    ))?;
    eprintln!(
        "done: {} steps in {:.0} s; wrote {} ({} bytes, {} features)",
        tr.step,
        tr.seconds,
        a.out.display(),
        bytes.len(),
        ganscope_model::classifier::Classifier::load(&bytes)?.feature_dim()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Wrap {
        #[command(flatten)]
        args: ClassifierArgs,
    }

    #[test]
    fn default_options_are_the_library_defaults() {
        let parsed = Wrap::try_parse_from(["x", "--out", "c.safetensors"]).expect("parse");
        assert_eq!(parsed.args.options(), ClassifierOptions::default());
    }
}
