//! `ganscope`: train, export, sample and inspect GAN generators.
//!
//! A thin binary: the command-line types and the dispatch live here, each command in its own
//! file under [`commands`], and the work in the library crates (`ganscope-train`,
//! `ganscope-model`, `ganscope-gpu`, `ganscope-analysis`).

mod commands;
mod process;
mod progress;

// training allocates and frees the same large tensors every step; mimalloc keeps them
// (BENCHMARKS.md, a training step; and [`process`])
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::{Parser, Subcommand};
use commands::{
    analyze, bench, bench_train, classifier, compress, export, import, info, sample, site, train,
};

#[derive(Parser)]
#[command(
    name = "ganscope",
    version,
    about = "Train GAN and Random-Path GAN generators and look inside them"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Train a generator (standard GAN or RPGAN) and its discriminator.
    Train(Box<train::TrainArgs>),
    /// Write a run's generator (and discriminator) as one .safetensors model file.
    Export(export::ExportArgs),
    /// Render a grid of samples, with paths and interventions.
    Sample(sample::SampleArgs),
    /// Time the forward on candle (CPU) and on wgpu in one run: latency at batch 1,
    /// throughput at larger batches, and the ratio, with the adapter's name.
    Bench(bench::BenchArgs),
    /// Time training steps on a device (whole steps and their phases) and write one step
    /// out (variables before and after, its inputs, its losses) into --out, for the PyTorch
    /// twin `tests/torch/train_twin.py` to replay and time on the same machine.
    BenchTrain(bench_train::BenchTrainArgs),
    /// Measure what the papers measure (RPGAN buckets, GAN Dissection, influence maps and
    /// modules, concept groups, quality) and write figures, JSON and an HTML report.
    Analyze(Box<analyze::AnalyzeArgs>),
    /// Train a small image classifier on the dataset's labels (the feature network of
    /// semantic distances between generated images) and write it as one .safetensors file.
    Classifier(classifier::ClassifierArgs),
    /// Merge consecutive buckets of a linear RPGAN (`train --arch linear`) into one bucket
    /// whose blocks are products of the merged blocks (RPGAN paper, sec. 4.4): one matrix
    /// product instead of several per sample.
    Compress(compress::CompressArgs),
    /// Import a generator trained in PyTorch (a torch.save checkpoint or a safetensors state
    /// dict) as a model file; the layout of its keys is detected, and no code in it runs.
    Import(import::ImportArgs),
    /// Write the lab page and chosen models as one folder that any static host serves,
    /// opening on a chosen model and view.
    Site(site::SiteArgs),
    /// Print a model file's architecture, sites, parameters and training summary.
    Info(info::InfoArgs),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let training = matches!(cli.cmd, Cmd::Train(_) | Cmd::BenchTrain(_));
    if training {
        process::restart_with_defaults(process::TRAINING);
    }
    let run = move || match cli.cmd {
        Cmd::Train(a) => train::run(&a),
        Cmd::Export(a) => export::run(&a),
        Cmd::Sample(a) => sample::run(&a),
        Cmd::Bench(a) => bench::run(&a),
        Cmd::BenchTrain(a) => bench_train::run(&a),
        Cmd::Analyze(a) => analyze::analyze(&a),
        Cmd::Classifier(a) => classifier::run(&a),
        Cmd::Compress(a) => compress::run(&a),
        Cmd::Import(a) => import::run(&a),
        Cmd::Info(a) => info::run(&a),
        Cmd::Site(a) => site::run(&a),
    };
    let result = if training {
        process::on_rayon(run)
    } else {
        run()
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
