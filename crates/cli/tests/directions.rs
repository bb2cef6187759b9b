//! Latent directions from the command line: `analyze directions` on the bundled GAN (SeFa)
//! and RPGAN (GANSpace), `sample --direction` at amount 0 renders the plain sample bit for
//! bit and equals the same shift given as interventions, and bad requests get a message.

use std::path::Path;
use std::process::{Command, Output};

fn ganscope(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ganscope"))
        .args(args)
        .output()
        .expect("runs")
}

fn ok(args: &[&str]) {
    let out = ganscope(args);
    assert!(
        out.status.success(),
        "ganscope {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn bundled(name: &str) -> String {
    format!("{}/../../www/models/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn raw(dir: &Path, model: &str, name: &str, extra: &[&str]) -> Vec<u8> {
    let png = dir.join(format!("{name}.png"));
    let raw = dir.join(format!("{name}.f32"));
    let mut args = vec![
        "sample",
        model,
        "--n",
        "4",
        "--seed",
        "3",
        "--out",
        png.to_str().expect("utf-8"),
        "--raw",
        raw.to_str().expect("utf-8"),
    ];
    args.extend_from_slice(extra);
    ok(&args);
    std::fs::read(raw).expect("raw")
}

#[test]
fn directions_of_the_bundled_models_and_sample_along_them() {
    let dir = tempfile::tempdir().expect("tmp");
    let gan = bundled("gan-colored-mnist.safetensors");
    let out = dir.path().join("gan");
    let o = out.to_str().expect("utf-8");
    ok(&["analyze", &gan, "directions", "--top", "5", "--out", o]);
    let j: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("directions.json")).expect("json"))
            .expect("parses");
    assert_eq!(
        (j["method"].as_str(), j["site"].as_str()),
        (Some("sefa"), Some("z"))
    );
    let values: Vec<f64> = j["directions"]
        .as_array()
        .expect("list")
        .iter()
        .map(|d| d["value"].as_f64().expect("value"))
        .collect();
    assert_eq!(values.len(), 5);
    assert!(
        values.windows(2).all(|w| w[0] >= w[1]),
        "sorted: {values:?}"
    );
    assert!(out.join("directions.png").is_file() && out.join("directions.safetensors").is_file());

    let plain = raw(dir.path(), &gan, "plain", &[]);
    let zero = raw(
        dir.path(),
        &gan,
        "zero",
        &["--direction", "2", "--amount", "0"],
    );
    assert_eq!(
        plain, zero,
        "a move by 0 renders the plain samples bit for bit"
    );
    let moved = raw(
        dir.path(),
        &gan,
        "moved",
        &["--direction", "2", "--amount", "-2.5"],
    );
    assert_ne!(plain, moved);

    let rpgan = bundled("rpgan-colored-mnist.safetensors");
    let out = dir.path().join("rpgan");
    let o = out.to_str().expect("utf-8");
    ok(&[
        "analyze",
        &rpgan,
        "directions",
        "--samples",
        "64",
        "--top",
        "3",
        "--out",
        o,
    ]);
    let j: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("directions.json")).expect("json"))
            .expect("parses");
    assert_eq!(j["method"].as_str(), Some("ganspace"));
    assert_eq!(
        j["site"].as_str(),
        Some("b2"),
        "an RPGAN moves the site itself"
    );

    for (model, args, want) in [
        (
            &gan,
            vec!["--direction", "500", "--amount", "1"],
            "direction 500 does not exist",
        ),
        (
            &gan,
            vec!["--direction", "0", "--amount", "NaN"],
            "must be a number",
        ),
        (
            &rpgan,
            vec!["--direction", "0", "--amount", "1", "--method", "sefa"],
            "learned constant",
        ),
        (&gan, vec!["--direction", "0"], "--amount"),
        (
            &rpgan,
            vec![
                "--direction",
                "0",
                "--amount",
                "1",
                "--direction-site",
                "b9",
            ],
            "no site `b9`",
        ),
    ] {
        let png = dir.path().join("bad.png");
        let mut a = vec![
            "sample",
            model.as_str(),
            "--out",
            png.to_str().expect("utf-8"),
        ];
        a.extend(args);
        let out = ganscope(&a);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && err.contains(want), "{a:?}: {err}");
    }
}
