//! Incremental learning on real MNIST (tiny widths): an RPGAN trained on digits 0-6 is
//! extended with new blocks on 0-9; the old blocks stay bit for bit, the new ones train,
//! the extension resumes bit for bit, and bad requests are refused.

use ganscope_model::config::Rpgan;
use ganscope_train::extend::{extension_options, parse_add_blocks, ExtendOn};
use ganscope_train::options::{parse_classes, TrainOptions};
use ganscope_train::run::{open, train};
use std::collections::BTreeMap;
use std::path::Path;

fn base(steps: u64) -> TrainOptions {
    TrainOptions {
        limit: Some(512),
        classes: Some(parse_classes("0-6").expect("classes")),
        width: 4,
        d_width: 4,
        latent_dim: 16,
        rpgan: Some(Rpgan::new(4, 3)),
        steps,
        batch: 8,
        seed: 5,
        checkpoint_every: 2,
        sample_every: 4,
        log_every: 1,
        ..TrainOptions::default()
    }
}

fn run(o: TrainOptions, dir: &Path, resume: bool) {
    let steps = o.steps;
    let mut tr = open(o, dir, resume, Some(steps)).expect("open");
    train(&mut tr, dir, &mut |_| {}).expect("train");
}

fn values(dir: &Path) -> BTreeMap<String, Vec<u32>> {
    ganscope_train::checkpoint::load_bits(dir)
        .expect("the checkpoint loads")
        .1
}

fn extension(old: &Path, steps: u64) -> TrainOptions {
    let cmd = TrainOptions {
        steps,
        seed: 6,
        ..base(steps)
    };
    let add = parse_add_blocks("1:2,3:1").expect("add");
    extension_options(
        &cmd,
        old,
        &add,
        None,
        Some(parse_classes("7-9").expect("classes")),
        ExtendOn::Union,
    )
    .expect("options")
}

#[test]
fn extension_trains_only_new_blocks_and_resumes() {
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().expect("tmp")).collect();
    let (old, ext, ext2) = (dirs[0].path(), dirs[1].path(), dirs[2].path());
    run(base(4), old, false);
    let o = extension(old, 4);
    assert_eq!(o.classes, Some((0..10).collect()), "union of 0-6 and 7-9");
    assert_eq!(o.blocks, Some(vec![5, 3, 4, 3]));
    let tr = open(o.clone(), ext, false, None).expect("open");
    let init = tr.store.snapshot();
    assert_eq!(tr.data.len(), 512, "all ten digits of the first 512 images");
    drop(tr);
    std::fs::remove_dir_all(ext).expect("clean");
    run(o.clone(), ext, false);
    let (before, after) = (values(old), values(ext));
    let frozen = o.extend.as_ref().expect("ext").frozen_prefixes();
    let (mut kept, mut trained) = (0, 0);
    for (name, v) in &after {
        if !name.starts_with("g.") {
            continue;
        }
        if frozen.iter().any(|p| name.starts_with(p.as_str())) {
            assert_eq!(Some(v), before.get(name), "{name} is frozen");
            kept += 1;
        } else {
            let (_, t) = init.iter().find(|(n, _)| n == name).expect("new var");
            let t0: Vec<u32> = t
                .flatten_all()
                .and_then(|t| t.to_vec1::<f32>())
                .expect("f32 values")
                .iter()
                .map(|x| x.to_bits())
                .collect();
            if !name.contains("running") && !name.ends_with("bn.bias") {
                assert_ne!(v, &t0, "{name} is new and trained");
            }
            trained += 1;
        }
    }
    assert!(kept > 0 && trained > 0, "{kept} kept, {trained} trained");
    assert_ne!(after.get("d.conv1.weight"), before.get("d.conv1.weight"));
    // no optimiser state for a frozen block
    assert!(!after
        .keys()
        .any(|n| n.starts_with("adam_g.m.g.bucket1.block0.")));
    assert!(after
        .keys()
        .any(|n| n.starts_with("adam_g.m.g.bucket1.block4.")));
    // interrupted at step 2 and resumed: the same bits
    run(TrainOptions { steps: 2, ..o }, ext2, false);
    run(base(4), ext2, true);
    assert_eq!(
        values(ext2),
        after,
        "resumed extension equals uninterrupted"
    );
    // an exported extension is a valid model with the grown buckets
    let (meta, _) = ganscope_train::export::export_bytes(
        ext,
        ganscope_train::export::ExportOptions {
            f16: false,
            ema: true,
            discriminator: false,
        },
    )
    .expect("export");
    assert_eq!(meta.generator.blocks(), vec![5, 3, 4, 3]);
}

#[test]
fn bad_extensions_are_refused() {
    let dirs: Vec<_> = (0..2).map(|_| tempfile::tempdir().expect("tmp")).collect();
    let (rp, gan) = (dirs[0].path(), dirs[1].path());
    run(base(1), rp, false);
    run(
        TrainOptions {
            rpgan: None,
            ..base(1)
        },
        gan,
        false,
    );
    let cmd = base(1);
    let err = |dir: &Path, add: &str, data: Option<String>, on| {
        parse_add_blocks(add)
            .and_then(|a| extension_options(&cmd, dir, &a, data, None, on))
            .expect_err("refused")
            .to_string()
    };
    assert!(err(gan, "1:2", None, ExtendOn::Union).contains("standard GAN"));
    assert!(err(rp, "5:2", None, ExtendOn::Union).contains("bucket 5 does not exist"));
    assert!(err(rp, "1:0", None, ExtendOn::Union).contains("bucket:count"));
    assert!(err(rp, "x", None, ExtendOn::Union).contains("bucket:count"));
    let other = Some("cifar10:/nowhere".to_string());
    assert!(err(rp, "1:1", other, ExtendOn::Union).contains("--extend-on new"));
    assert!(parse_classes("6-2").is_err() && parse_classes("a").is_err());
    assert_eq!(parse_classes("0-2,5,1").expect("ok"), vec![0, 1, 2, 5]);
}
