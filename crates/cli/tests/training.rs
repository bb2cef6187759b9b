//! The training commands end to end: `ganscope classifier` writes a file that loads as a
//! classifier (and not as a model); `ganscope train --classes` trains a class subset and
//! `--extend` grows it; bad requests are refused with the flag named.

use ganscope_model::classifier::Classifier;
use std::process::Command;

fn mnist() -> String {
    format!("mnist:{}/../../data/mnist", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn cli_run_writes_a_loadable_classifier() {
    let tmp = tempfile::tempdir().expect("tmp");
    let out = tmp.path().join("c.safetensors");
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_ganscope"))
            .args(args)
            .output()
            .expect("runs")
    };
    let data = mnist();
    let path = out.to_str().expect("utf-8");
    let args = [
        "classifier",
        "--colored",
        "--data",
        &data,
        "--limit",
        "64",
        "--test-limit",
        "40",
        "--width",
        "4",
        "--steps",
        "3",
        "--batch",
        "16",
        "--f16",
        "--out",
        path,
    ];
    let o = run(&args);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        stdout.contains("test accuracy: ") && stdout.contains("(40 test images)"),
        "{stdout}"
    );
    let bytes = std::fs::read(&out).expect("written");
    let c = Classifier::load(&bytes).expect("loads as a classifier");
    let m = c.meta();
    assert_eq!(
        (m.network.outputs, m.network.channels, m.network.image_size),
        (10, 3, 32)
    );
    assert_eq!(
        m.classes,
        (0..10).map(|i| i.to_string()).collect::<Vec<_>>()
    );
    let acc = m.test_accuracy.expect("accuracy stored");
    assert!((0.0..=1.0).contains(&acc));
    assert!(stdout.contains(&format!("{:.2}%", 100.0 * acc)), "{stdout}");
    let d = m.dataset.as_ref().expect("dataset");
    assert_eq!((d.name.as_str(), d.images), ("colored-mnist", 64));
    let t = m.training.as_ref().expect("training");
    assert_eq!(t["steps"], 3);
    assert_eq!(t["options"]["width"], 4);
    assert_eq!(
        c.features(&vec![0.0; 2 * 3 * 32 * 32], 2).expect("f").len(),
        2 * 16 * 4 * 4
    );
    let info = run(&["info", path]);
    assert!(!info.status.success(), "a classifier is not a model");
    let err = String::from_utf8_lossy(&info.stderr);
    assert!(err.contains("ganscope classifier"), "{err}");

    let bad = run(&["classifier", "--steps", "0", "--out", path]);
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(
        !bad.status.success() && err.starts_with("error: ") && err.contains("--steps"),
        "{err}"
    );
}

#[test]
fn the_cli_trains_a_class_subset_and_extends_it() {
    let dir = tempfile::tempdir().expect("tmp");
    let (old, new) = (dir.path().join("old"), dir.path().join("new"));
    let run = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_ganscope"))
            .args(args)
            .output()
            .expect("runs");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    let tiny = [
        "--limit",
        "256",
        "--batch",
        "8",
        "--steps",
        "2",
        "--width",
        "4",
        "--d-width",
        "4",
    ];
    let old_s = old.to_str().expect("utf-8");
    let (ok, err) = run(&[
        &[
            "train",
            "--rpgan",
            "--blocks",
            "2",
            "--classes",
            "0-6",
            "--out",
            old_s,
        ][..],
        &tiny,
    ]
    .concat());
    assert!(ok, "{err}");
    assert!(
        err.contains("training mnist (185 images)"),
        "0-6 of the first 256 digits: {err}"
    );
    let new_s = new.to_str().expect("utf-8");
    let ext = [
        "train",
        "--extend",
        old_s,
        "--add-blocks",
        "1:2",
        "--classes",
        "7-9",
        "--out",
        new_s,
    ];
    let (ok, err) = run(&[&ext[..], &tiny].concat());
    assert!(ok, "{err}");
    assert!(
        err.contains("training mnist (256 images)"),
        "the union: {err}"
    );
    let (ok, err) = run(&["train", "--classes", "9-2", "--out", "x"]);
    assert!(!ok && err.contains("not a class list"), "{err}");
    let (ok, err) = run(&["train", "--extend", old_s, "--out", "x"]);
    assert!(!ok && err.contains("--add-blocks"), "{err}");
}
