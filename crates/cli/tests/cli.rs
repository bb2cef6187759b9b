//! The `ganscope` binary end to end, as the README uses it: train (RPGAN, 4 buckets of 8
//! blocks) -> export -> info -> sample with paths and interventions; bad input exits with a
//! one-line error.

use std::path::Path;
use std::process::{Command, Output};

fn ganscope(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ganscope"))
        .args(args)
        .output()
        .expect("runs")
}

fn ok(args: &[&str]) -> String {
    let out = ganscope(args);
    assert!(
        out.status.success(),
        "ganscope {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn fails(args: &[&str], want: &str) {
    let out = ganscope(args);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "ganscope {args:?} should fail");
    assert!(
        err.starts_with("error: ") && err.contains(want),
        "ganscope {args:?}: {err}"
    );
    assert!(
        !err.contains("panicked") && !err.contains("backtrace"),
        "{err}"
    );
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

#[test]
fn train_export_info_sample() {
    let tmp = tempfile::tempdir().expect("tmp");
    let (run, model, half) = (
        tmp.path().join("r"),
        tmp.path().join("m.safetensors"),
        tmp.path().join("h.safetensors"),
    );
    let data = format!("mnist:{}/../../data/mnist", env!("CARGO_MANIFEST_DIR"));
    ok(&[
        "train",
        "--data",
        &data,
        "--limit",
        "256",
        "--arch",
        "dcgan",
        "--rpgan",
        "--buckets",
        "4",
        "--blocks",
        "8",
        "--width",
        "4",
        "--steps",
        "3",
        "--batch",
        "16",
        "--out",
        s(&run),
    ]);
    ok(&["export", s(&run), "--out", s(&model)]);
    ok(&["export", s(&run), "--out", s(&half), "--f16"]);
    let size = |p: &Path| std::fs::metadata(p).expect("meta").len();
    assert!(size(&half) < size(&model) * 6 / 10, "f16 is about half");
    let info = ok(&["info", s(&model)]);
    assert!(info.contains("buckets:    4"), "{info}");
    assert_eq!(info.matches("8 blocks").count(), 4, "{info}");
    assert!(
        info.contains("b1   [16, 4, 4]") && info.contains("3 steps, hinge loss"),
        "{info}"
    );

    let png = |name: &str| tmp.path().join(name);
    ok(&[
        "sample",
        s(&model),
        "--n",
        "4",
        "--out",
        s(&png("a.png")),
        "--path",
        "3,0,7,1",
    ]);
    ok(&[
        "sample",
        s(&model),
        "--n",
        "4",
        "--out",
        s(&png("b.png")),
        "--path",
        "3,0,7,1",
    ]);
    ok(&[
        "sample",
        s(&model),
        "--n",
        "4",
        "--out",
        s(&png("c.png")),
        "--path",
        "3,0,7,2",
    ]);
    let read = |name: &str| image::open(png(name)).expect("png").to_luma8().into_raw();
    assert_eq!(read("a.png"), read("b.png"), "same path, same image");
    assert_ne!(read("a.png"), read("c.png"), "another path, another image");

    ok(&[
        "sample",
        s(&model),
        "--vary-buckets",
        "--path",
        "3,0,7,1",
        "--out",
        s(&png("grid.png")),
    ]);
    let g = image::open(png("grid.png")).expect("png");
    assert_eq!(
        (g.width(), g.height()),
        (8 * 34 + 2, 4 * 34 + 2),
        "4 buckets x 8 blocks of 32 px + 2 px gaps"
    );
    let cell = |img: &image::DynamicImage, r: u32, c: u32| {
        img.crop_imm(2 + c * 34, 2 + r * 34, 32, 32)
            .to_luma8()
            .into_raw()
    };
    assert_eq!(
        cell(&g, 2, 7),
        cell(&g, 3, 1),
        "row 3 column 7 and row 4 column 1 are both path 3,0,7,1"
    );
    assert_eq!(
        cell(&g, 2, 7),
        read("a.png")[..]
            .chunks(4 * 34 + 2)
            .skip(2)
            .take(32)
            .flat_map(|r| r[2..34].to_vec())
            .collect::<Vec<_>>()
    );

    let edits = tmp.path().join("edits.json");
    std::fs::write(&edits, r#"{"path":[3,0,7,1],"edits":[{"site":"b2","units":[0,1,2,3,4,5,6,7],"region":{"kind":"rect","top":0,"left":0,"bottom":0.5,"right":0.5}}],"hybrid":{"site":"b1","channels":[0,1],"donor_seed":9}}"#).expect("write");
    ok(&[
        "sample",
        s(&model),
        "--n",
        "4",
        "--out",
        s(&png("d.png")),
        "--interventions",
        s(&edits),
    ]);
    assert_ne!(
        read("a.png"),
        read("d.png"),
        "interventions change the image"
    );

    fails(
        &[
            "sample",
            s(&model),
            "--out",
            s(&png("e.png")),
            "--path",
            "9,0,0,0",
        ],
        "block 9 does not exist in bucket 1",
    );
    std::fs::write(&edits, r#"{"edits":[{"site":"b9","units":[0]}]}"#).expect("write");
    fails(
        &[
            "sample",
            s(&model),
            "--out",
            s(&png("e.png")),
            "--interventions",
            s(&edits),
        ],
        "unknown site `b9`",
    );
    std::fs::write(
        tmp.path().join("junk.safetensors"),
        b"\x10\x00\x00\x00\x00\x00\x00\x00{}",
    )
    .expect("write");
    fails(
        &["info", s(&tmp.path().join("junk.safetensors"))],
        "the header declares 16 bytes",
    );
    fails(
        &[
            "train",
            "--data",
            "mnist:/nonexistent",
            "--steps",
            "1",
            "--out",
            s(&tmp.path().join("x")),
        ],
        "/nonexistent",
    );
    fails(
        &[
            "train",
            "--data",
            "cifar10:/nonexistent",
            "--colored",
            "--steps",
            "1",
            "--out",
            s(&tmp.path().join("y")),
        ],
        "colored",
    );
    fails(
        &[
            "train",
            "--buckets",
            "9",
            "--rpgan",
            "--steps",
            "1",
            "--out",
            s(&tmp.path().join("z")),
        ],
        "buckets must be 1..=4",
    );
    for (flag, value, want) in [
        ("--beta2", "1", "betas must be in [0, 1)"),
        ("--lr", "0", "learning rates must be positive"),
        ("--width", "99999", "width 99999 is outside"),
        ("--image-size", "33", "image size 33"),
    ] {
        fails(
            &[
                "train",
                flag,
                value,
                "--steps",
                "1",
                "--out",
                s(&tmp.path().join("z")),
            ],
            want,
        );
    }
}

#[test]
fn resume_keeps_the_run_target_unless_told() {
    let tmp = tempfile::tempdir().expect("tmp");
    let run = tmp.path().join("r");
    let data = format!("mnist:{}/../../data/mnist", env!("CARGO_MANIFEST_DIR"));
    let base = [
        "train",
        "--data",
        &data,
        "--limit",
        "64",
        "--width",
        "4",
        "--batch",
        "8",
        "--log-every",
        "1",
        "--out",
        s(&run),
    ];
    ok(&[&base[..], &["--steps", "3"]].concat());
    let log = || {
        std::fs::read_to_string(run.join("metrics.jsonl"))
            .expect("metrics")
            .lines()
            .count()
    };
    assert_eq!(log(), 3);
    ok(&[&base[..], &["--resume"]].concat()); // nothing left to do: the target stays 3
    assert_eq!(log(), 3);
    ok(&[&base[..], &["--resume", "--steps", "5"]].concat());
    assert_eq!(log(), 5);
    let model = tmp.path().join("m.safetensors");
    ok(&["export", s(&run), "--out", s(&model)]);
    fails(
        &[
            "sample",
            s(&model),
            "--vary-buckets",
            "--out",
            s(&tmp.path().join("g.png")),
        ],
        "needs an RPGAN",
    );
}

fn raw_f32(p: &Path) -> Vec<f32> {
    std::fs::read(p)
        .expect("raw file")
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

/// `sample --backend gpu` renders what the CPU renders (the bundled model, an intervention
/// file), and `bench` prints its table with the adapter. Skipped without a GPU adapter
/// unless CI is set (CI installs lavapipe).
#[test]
fn gpu_sample_matches_cpu_and_bench_reports_both() {
    if ganscope_gpu::Gpu::new_blocking().is_err() && std::env::var_os("CI").is_none() {
        eprintln!("skipped: no GPU adapter");
        return;
    }
    let dir = tempfile::tempdir().expect("tmp");
    let model = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../www/models/rpgan-colored-mnist.safetensors"
    );
    let iv = dir.path().join("iv.json");
    std::fs::write(
        &iv,
        r#"{"edits": [{"site": "b3", "units": [2, 7], "value": 1.5}], "hybrid": {"site": "b2", "channels": [0, 5]}}"#,
    )
    .expect("write");
    let mut got = Vec::new();
    for backend in ["cpu", "gpu"] {
        let raw = dir.path().join(format!("{backend}.f32"));
        let png = dir.path().join(format!("{backend}.png"));
        ok(&[
            "sample",
            model,
            "--n",
            "5",
            "--seed",
            "9",
            "--interventions",
            s(&iv),
            "--backend",
            backend,
            "--out",
            s(&png),
            "--raw",
            s(&raw),
        ]);
        got.push(raw_f32(&raw));
    }
    assert_eq!(got[0].len(), 5 * 3 * 32 * 32);
    for (i, (c, g)) in got[0].iter().zip(&got[1]).enumerate() {
        assert!(
            (c - g).abs() <= 1e-5 + 1e-4 * c.abs(),
            "value {i}: cpu {c}, gpu {g}"
        );
    }
    let table = ok(&["bench", model, "--batches", "1,3", "--min-time", "0"]);
    assert!(
        table.contains("wgpu:") && table.contains("| 1 |") && table.contains("| 3 |"),
        "{table}"
    );
    fails(&["bench", model, "--batches", "0"], "positive batch sizes");
    let gan = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../www/models/gan-colored-mnist.safetensors"
    );
    let both = ok(&[
        "bench",
        model,
        "--against",
        gan,
        "--batches",
        "2",
        "--min-time",
        "0",
    ]);
    assert!(
        both.contains("against:") && both.contains("speed-up of") && both.contains("| 2 |"),
        "{both}"
    );
}

#[test]
fn import_info_and_sample_given_latents() {
    let dir = tempfile::tempdir().expect("tmp");
    let fx =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/import/pytorch-dcgan");
    let model = dir.path().join("m.safetensors");
    let said = ok(&["import", s(&fx.join("checkpoint.tar")), "--out", s(&model)]);
    assert!(
        said.contains("the state dict under `netG_state_dict`")
            && said.contains("layout pytorch-dcgan"),
        "{said}"
    );
    let info = ok(&["info", s(&model)]);
    assert!(
        info.contains("family:     program")
            && info.contains(
                "imported:   checkpoint.tar (torch-zip, layout pytorch-dcgan, key netG_state_dict"
            )
            && info
                .contains("layer 1: conv_transpose 4x4/1 pad 0 -> 16, no bias, batch_norm, relu"),
        "{info}"
    );
    let raw = dir.path().join("out.f32");
    let png = dir.path().join("out.png");
    ok(&[
        "sample",
        s(&model),
        "--latents",
        s(&fx.join("z.npy")),
        "--raw",
        s(&raw),
        "--out",
        s(&png),
    ]);
    let got = raw_f32(&raw);
    let want = candle_core::Tensor::read_npy(fx.join("out.npy"))
        .and_then(|t| t.flatten_all()?.to_vec1::<f32>())
        .expect("out.npy");
    let d = got
        .iter()
        .zip(&want)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f32::max);
    assert!(got.len() == want.len() && d <= 1e-4, "off by {d}");
    // latents of another size, and a file that is not a checkpoint
    let other = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/import/pytorch-dcgan-dataparallel/z.npy");
    fails(
        &[
            "sample",
            s(&model),
            "--latents",
            s(&other),
            "--out",
            s(&png),
        ],
        "holds latents of shape [4, 6, 1, 1]; this model takes [N, 8]",
    );
    fails(
        &["import", s(&other), "--out", s(&model)],
        "cannot read the checkpoint",
    );
}
