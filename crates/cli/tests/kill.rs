//! `ganscope train` killed with SIGKILL at random moments (each start trains at least one step,
//! then dies within 150 ms), 20 times, and resumed each time:
//! every resume succeeds, the checkpoint always loads (never half-written), at most one
//! checkpoint interval of steps is lost per kill, and the final weights equal an
//! uninterrupted run's bit for bit.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use ganscope_train::checkpoint;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const EVERY: u64 = 3;
const STEPS: u64 = 240;

fn train_args(out: &Path, resume: bool) -> Vec<String> {
    let mut a: Vec<String> = [
        "train",
        "--limit",
        "256",
        "--width",
        "4",
        "--d-width",
        "4",
        "--latent-dim",
        "16",
        "--rpgan",
        "--buckets",
        "4",
        "--blocks",
        "3",
        "--batch",
        "8",
        "--seed",
        "5",
        "--sample-every",
        "1000",
        "--log-every",
        "1",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    a.extend(["--steps".into(), STEPS.to_string()]);
    a.extend(["--checkpoint-every".into(), EVERY.to_string()]);
    a.extend(["--out".into(), out.display().to_string()]);
    if resume {
        a.push("--resume".into());
    }
    a
}

fn ganscope(args: &[String]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_ganscope"));
    c.args(args).stdout(Stdio::null()).stderr(Stdio::piped());
    c
}

/// Every tensor of the run's checkpoint as bits, and its step.
fn weights(dir: &Path) -> (u64, std::collections::BTreeMap<String, Vec<u32>>) {
    checkpoint::load_bits(dir).expect("the checkpoint loads")
}

/// The last step in metrics.jsonl (lines cut by a kill are skipped).
fn last_logged(dir: &Path) -> u64 {
    std::fs::read_to_string(dir.join("metrics.jsonl"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v["step"].as_u64())
        .max()
        .unwrap_or(0)
}

#[test]
fn a_run_killed_twenty_times_ends_with_the_uninterrupted_weights() {
    let (straight, killed) = (
        tempfile::tempdir().expect("tmp"),
        tempfile::tempdir().expect("tmp"),
    );
    let out = ganscope(&train_args(straight.path(), false))
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (end, want) = weights(straight.path());
    assert_eq!(end, STEPS);

    let mut rng = StdRng::seed_from_u64(42);
    let mut kills = 0;
    let mut last_step = 0;
    let mut attempts = 0;
    let mut at = Vec::new();
    while kills < 20 {
        attempts += 1;
        assert!(attempts < 200, "the run finished before 20 kills landed");
        let resume = checkpoint::path(killed.path()).exists();
        let before = last_logged(killed.path());
        let mut child = ganscope(&train_args(killed.path(), resume))
            .spawn()
            .expect("spawn");
        // wait for this start to train a step (however slow the machine), then kill it at
        // a random moment of the steps that follow
        let t = std::time::Instant::now();
        while last_logged(killed.path()) <= before
            && child.try_wait().expect("wait").is_none()
            && t.elapsed() < Duration::from_secs(120)
        {
            std::thread::sleep(Duration::from_millis(2));
        }
        std::thread::sleep(Duration::from_millis(rng.random_range(0..150)));
        if child.try_wait().expect("wait").is_some() {
            // finished (or failed) before the kill: it must have succeeded
            let out = child.wait_with_output().expect("output");
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(
                weights(killed.path()).0 < STEPS,
                "the run finished after only {kills} kills"
            );
            continue;
        }
        child.kill().expect("SIGKILL");
        child.wait().expect("reaped");
        kills += 1;
        if !checkpoint::path(killed.path()).exists() {
            continue; // killed before the step-0 checkpoint
        }
        let (step, _) = weights(killed.path());
        assert!(
            step >= last_step,
            "the checkpoint went back from {last_step} to {step}"
        );
        let logged = last_logged(killed.path());
        assert!(
            logged <= step + EVERY,
            "kill {kills}: steps up to {logged} were done, the checkpoint holds {step}"
        );
        last_step = step;
        at.push(step);
    }
    let out = ganscope(&train_args(
        killed.path(),
        checkpoint::path(killed.path()).exists(),
    ))
    .output()
    .expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (step, got) = weights(killed.path());
    assert_eq!(step, STEPS);
    assert_eq!(got.len(), want.len());
    for ((n, a), (_, b)) in got.iter().zip(&want) {
        assert!(
            a == b,
            "{n} differs from the uninterrupted run after {kills} kills"
        );
    }
    eprintln!("{kills} kills survived in {attempts} starts; checkpoint steps after each: {at:?}");
    assert!(
        at.iter().filter(|&&s| s > 0 && s < STEPS).count() >= 15,
        "most kills should land mid-run: {at:?}"
    );
}
