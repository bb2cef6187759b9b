//! `ganscope analyze` end to end on the bundled models: every analysis writes its figure and
//! JSON, the report holds them, a seed gives the same numbers twice, bad options get a
//! one-line error.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn ganscope(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ganscope"))
        .args(args)
        .output()
        .expect("runs")
}

fn bundled(name: &str) -> String {
    format!("{}/../../www/models/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn analyze(model: &str, what: &str, out: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "analyze",
        model,
        what,
        "--out",
        out.to_str().expect("utf-8"),
    ];
    args.extend_from_slice(extra);
    ganscope(&args)
}

fn json(dir: &Path, name: &str) -> serde_json::Value {
    let p: PathBuf = dir.join(name);
    let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    serde_json::from_str(&text).expect("json")
}

const SMALL: [&str; 8] = [
    "--samples",
    "48",
    "--evaluations",
    "4",
    "--pairs",
    "6",
    "--top",
    "2",
];

#[test]
fn every_analysis_of_the_rpgan_writes_figures_numbers_and_a_report() {
    let dir = tempfile::tempdir().expect("tmp");
    let model = bundled("rpgan-colored-mnist.safetensors");
    let mut extra = SMALL.to_vec();
    extra.push("--report");
    let out = analyze(&model, "all", dir.path(), &extra);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for f in [
        "paths-seed0.png",
        "buckets.json",
        "buckets.svg",
        "quality.json",
        "dissect.json",
        "dissect.png",
        "ace.json",
        "ace.svg",
        "influence.json",
        "influence.png",
        "modules.json",
        "modules.png",
        "module-hybrids.png",
        "groups.json",
        "groups.png",
        "directions.json",
        "directions.png",
        "directions.safetensors",
        "report.html",
    ] {
        assert!(dir.path().join(f).is_file(), "{f} missing");
    }
    let b = json(dir.path(), "buckets.json");
    assert_eq!(b["buckets"].as_array().expect("rows").len(), 4);
    assert!(b["features"]
        .as_str()
        .expect("features")
        .contains("classifier"));
    let q = json(dir.path(), "quality.json");
    assert!(q["fd"].as_f64().expect("fd") > 0.0);
    // pixel diversity beside real test images (values in [0, 1])
    let real = q["diversity"]["real"]["pixel_std"]
        .as_f64()
        .expect("real std");
    let fake = q["diversity"]["generated"]["nearest"]
        .as_f64()
        .expect("nearest");
    assert!(
        real > 0.05 && real < 0.5 && fake >= 0.0,
        "{}",
        q["diversity"]
    );
    let m = json(dir.path(), "modules.json");
    assert_eq!(m["k"], 3);
    let html = std::fs::read_to_string(dir.path().join("report.html")).expect("html");
    assert!(html.contains("data:image/png;base64,") && html.contains("<svg"));
    assert!(!html.contains("<script"), "the report runs no script");

    // the same seed gives the same numbers
    let again = tempfile::tempdir().expect("tmp");
    for what in ["buckets", "modules", "groups"] {
        let out = analyze(&model, what, again.path(), &SMALL);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    for f in [
        "buckets.json",
        "influence.json",
        "modules.json",
        "groups.json",
    ] {
        assert_eq!(
            json(again.path(), f),
            json(dir.path(), f),
            "{f} differs between runs"
        );
    }
}

#[test]
fn a_standard_gan_gets_the_per_site_analyses_and_bad_options_are_refused() {
    let dir = tempfile::tempdir().expect("tmp");
    let model = bundled("gan-colored-mnist.safetensors");
    let out = analyze(
        &model,
        "groups",
        dir.path(),
        &["--samples", "32", "--site", "b3"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(json(dir.path(), "groups.json")["site"], 2);
    let success = |out: Output| {
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        )
    };
    let extra = ["--samples", "40", "--ablate", "4", "--site", "b3"];
    success(analyze(&model, "artifacts", dir.path(), &extra));
    let a = json(dir.path(), "artifacts.json");
    assert_eq!(a["worst"].as_array().expect("worst").len(), 4);
    assert!(a["fd_worst"].as_f64().expect("fd") > 0.0);
    success(analyze(&model, "paths", dir.path(), &["--noise", "1.0"]));
    assert!(dir.path().join("noise-seed0.png").is_file());
    for (what, extra, want) in [
        ("buckets", vec![], "at least 2 blocks per bucket"),
        ("groups", vec!["--site", "b9"], "no site `b9`"),
        ("ace", vec!["--concept", "sky"], "no concept `sky`"),
        ("modules", vec!["--k", "0"], "rank of 0"),
        ("artifacts", vec!["--ablate", "40"], "ablating 40 units"),
        (
            "quality",
            vec!["--classifier", "/nonexistent.safetensors"],
            "reading /nonexistent",
        ),
    ] {
        let out = analyze(&model, what, dir.path(), &extra);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{what} {extra:?} should fail");
        assert!(err.contains(want), "{what} {extra:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}

/// Trains and exports a tiny model with `args` (a few steps on 128 MNIST digits).
fn tiny_model(dir: &Path, name: &str, args: &[&str]) -> String {
    let run = dir.join(name);
    let run = run.to_str().expect("utf-8");
    let mut train = vec![
        "train",
        "--limit",
        "128",
        "--batch",
        "8",
        "--steps",
        "3",
        "--width",
        "4",
        "--d-width",
        "4",
        "--out",
        run,
    ];
    train.extend_from_slice(args);
    let out = ganscope(&train);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let file = format!("{run}.safetensors");
    let out = ganscope(&["export", run, "--out", &file]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    file
}

#[test]
fn linear_and_interpretable_models_get_every_analysis() {
    let dir = tempfile::tempdir().expect("tmp");
    let linear = tiny_model(
        dir.path(),
        "linear",
        &[
            "--arch",
            "linear",
            "--image-size",
            "28",
            "--rpgan",
            "--blocks",
            "3,3,2,2,2",
        ],
    );
    let out = analyze(&linear, "all", &dir.path().join("a-linear"), &SMALL);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let b = json(&dir.path().join("a-linear"), "buckets.json");
    assert_eq!(b["buckets"].as_array().expect("rows").len(), 5);
    // interpretable: the groups analysis reads the learned groups and their site
    let interp = tiny_model(
        dir.path(),
        "interp",
        &["--interpret", "b3", "--groups", "3", "--group-every", "2"],
    );
    let out = analyze(&interp, "groups", &dir.path().join("a-interp"), &SMALL);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let g = json(&dir.path().join("a-interp"), "groups.json");
    assert_eq!(g["learned"], true);
    assert_eq!(g["site"], 2, "the learned site b3 is the default");
    assert_eq!(g["labels"].as_array().expect("labels").len(), 4);
    let loc = &g["locality"];
    assert_eq!(loc["outside"].as_array().expect("per group").len(), 3);
    assert!(loc["mean_inside"].as_f64().expect("inside") >= 0.0);
    let share = g["consistency"]["share"].as_f64().expect("share");
    assert!((0.0..=1.0).contains(&share));
    // compressing the linear model keeps it analysable
    let small = dir.path().join("linear-c.safetensors");
    let out = ganscope(&[
        "compress",
        &linear,
        "--merge",
        "3-5",
        "--blocks",
        "6",
        "--out",
        small.to_str().expect("utf-8"),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = analyze(
        small.to_str().expect("utf-8"),
        "paths",
        &dir.path().join("a-small"),
        &SMALL,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bad = ganscope(&[
        "compress", &interp, "--merge", "1-2", "--blocks", "1", "--out", "x",
    ]);
    assert!(String::from_utf8_lossy(&bad.stderr).contains("only a linear generator"));
}
