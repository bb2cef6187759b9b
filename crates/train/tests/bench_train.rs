//! `bench-train`'s written-out first step (what the PyTorch twin replays) on real MNIST:
//! the variables before it are the state the step starts from (restored into a fresh run, the
//! same step gives the same variables after, bit for bit), its inputs are the step's draws,
//! and the timing covers steps and phases.

use ganscope_model::config::Rpgan;
use std::collections::BTreeMap;

use candle_core::{Device, Tensor};
use ganscope_model::sample::random_paths;
use ganscope_train::bench_train::{dump_step, time_steps};
use ganscope_train::options::TrainOptions;
use ganscope_train::run::load_data;
use ganscope_train::trainer::{step_seed, Trainer, G_DRAW};

fn opts() -> TrainOptions {
    TrainOptions {
        limit: Some(64),
        width: 4,
        d_width: 4,
        latent_dim: 8,
        rpgan: Some(Rpgan::new(4, 3)),
        batch: 8,
        d_steps: 2,
        seed: 3,
        ..TrainOptions::default()
    }
}

fn load(path: &std::path::Path) -> BTreeMap<String, Tensor> {
    candle_core::safetensors::load(path, &Device::Cpu)
        .expect("loads")
        .into_iter()
        .collect()
}

fn bits(t: &Tensor) -> Vec<u32> {
    t.flatten_all()
        .and_then(|t| t.to_vec1::<f32>())
        .expect("f32")
        .iter()
        .map(|x| x.to_bits())
        .collect()
}

#[test]
fn the_written_step_replays_and_is_timed() {
    let o = opts();
    let data = load_data(&o).expect("MNIST");
    let dir = tempfile::tempdir().expect("tmp");
    let mut tr = Trainer::new(o.clone(), data.clone()).expect("trainer");
    let stats = dump_step(&mut tr, dir.path()).expect("dump");
    // only the first step (the replay's Adam starts from zero moments)
    let again = dump_step(&mut tr, dir.path()).expect_err("a second step is refused");
    assert!(again.to_string().contains("first step"), "{again}");
    let (init, after) = (
        load(&dir.path().join("init.safetensors")),
        load(&dir.path().join("after.safetensors")),
    );

    // the generator starts as `WeightInit` says: the output layers (no BatchNorm after them)
    // at PyTorch's bound 1/sqrt(channels x 16) = 1/4 for grey images, the others N(0, 0.02)
    for (name, t) in &init {
        if !(name.starts_with("g.") && name.ends_with("conv.weight")) {
            continue;
        }
        let max = t
            .abs()
            .and_then(|a| a.max_all())
            .and_then(|m| m.to_scalar::<f32>());
        let max = max.expect("max");
        if name.ends_with("layer4.conv.weight") {
            assert!(max > 0.15 && max <= 0.25, "{name}: largest |w| {max}");
        } else {
            assert!(max < 0.12, "{name}: largest |w| {max}");
        }
    }

    // init + the step = after, in a fresh run restored from init
    let mut fresh = Trainer::new(o.clone(), data).expect("trainer");
    fresh.store.restore(&init).expect("restore");
    let again = fresh.train_step().expect("step");
    assert_eq!(again.d_loss.to_bits(), stats.d_loss.to_bits());
    assert_eq!(again.g_loss.to_bits(), stats.g_loss.to_bits());
    let mut moved = 0;
    for (name, want) in &after {
        let got = fresh.store.vars[name].as_tensor();
        assert_eq!(bits(got), bits(want), "{name}");
        moved += usize::from(bits(want) != bits(&init[name]));
    }
    assert!(moved > after.len() / 2, "only {moved} variables changed");

    // the inputs are the step's draws (2 D steps)
    let inp = load(&dir.path().join("inputs.safetensors"));
    for (k, key) in [(0, "d0"), (1, "d1"), (G_DRAW, "g")] {
        let seed = step_seed(o.seed, 0, k);
        let paths: Vec<i64> = random_paths(seed, o.batch, &tr.gcfg.blocks())
            .concat()
            .into_iter()
            .map(|b| b as i64)
            .collect();
        let got = inp[&format!("{key}.paths")].flatten_all().expect("paths");
        assert_eq!(got.to_vec1::<i64>().expect("i64"), paths, "{key}");
        assert!(!inp.contains_key(&format!("{key}.z")), "an RPGAN has no z");
    }
    let real = &inp["d1.real"];
    assert_eq!(real.dims(), &[8, 1, 32, 32]);
    assert_eq!(inp["g.pairs"].dims(), &[4, 2]);
    let step: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("step.json")).expect("step.json"),
    )
    .expect("json");
    assert_eq!(step["options"]["d_steps"], 2);
    assert_eq!(step["stats"]["step"], 1);

    let t = time_steps(&mut tr, 0, 2).expect("timing");
    assert!(t.step_ms_median > 0.0 && t.step_ms_mean > 0.0);
    let names: Vec<&str> = t.phases.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names.len(), 5, "{names:?}");
    assert!(t.phases.iter().all(|(_, ms)| *ms > 0.0));
}
