//! The whole generator on wgpu against the candle forward on the same file: the bundled
//! RPGAN and standard GAN (dcgan backbone, f16 files) and seeded SN-ResNet and linear models, for random
//! paths and every intervention kind, images and site activations, outputs poisoned first.

mod common;

use common::{assert_close, gpu};
use ganscope_gpu::{block_on, Gpu, GpuModel, Rendered};
use ganscope_model::candle_backend::{load_candle, CandleBackend};
use ganscope_model::config::{Family, GeneratorConfig};
use ganscope_model::format::seeded_model_bytes;
use ganscope_model::intervention::{Hybrid, Interventions, PerUnit, Region, Resolved, UnitEdit};
use ganscope_model::sample::{render, Batch};

fn bundled(name: &str) -> Vec<u8> {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../www/models")
        .join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// A seeded model file (f32), BatchNorm variances positive.
fn seeded(family: Family, rpgan: Option<(usize, usize)>) -> Vec<u8> {
    let mut g = GeneratorConfig::new(family, 32, 3, 8, rpgan.map(Into::into)).expect("config");
    g.latent_dim = 16;
    seeded_model_bytes(&g, 0.3).expect("bytes")
}

fn cpu_render(bytes: &[u8], batch: &Batch, resolved: &Resolved, sites: &[usize]) -> Rendered {
    let m = load_candle(bytes, &candle_core::Device::Cpu).expect("candle load");
    let b = CandleBackend::cpu();
    let mut seen = vec![None; m.generator.config.buckets.len()];
    let mut observe = |s: usize, x: &candle_core::Tensor| {
        seen[s] = Some(x.narrow(0, 0, batch.n)?.flatten_all()?.to_vec1::<f32>()?);
        Ok(())
    };
    let y = render(&m.generator, &b, batch, resolved, &mut observe).expect("render");
    let d = y.dims().to_vec();
    Rendered {
        images: y.flatten_all().and_then(|t| t.to_vec1()).expect("images"),
        shape: [d[0], d[1], d[2], d[3]],
        sites: sites
            .iter()
            .map(|&s| ganscope_gpu::SiteActivation {
                site: s,
                shape: [0; 4],
                data: seen[s].clone().expect("site"),
            })
            .collect(),
    }
}

fn interventions(rpgan: bool) -> Vec<(&'static str, Interventions)> {
    let rect = Region::Rect {
        top: 0.2,
        left: 0.0,
        bottom: 0.9,
        right: 0.6,
    };
    let ablate = UnitEdit {
        site: "b2".into(),
        units: vec![0, 3, 5],
        strength: PerUnit::All(1.0),
        value: PerUnit::All(0.0),
        region: Some(rect.clone()),
    };
    let insert = UnitEdit {
        site: "b1".into(),
        units: vec![1, 2],
        strength: PerUnit::Each(vec![0.5, 1.0]),
        value: PerUnit::Each(vec![2.0, -1.5]),
        region: None,
    };
    let hybrid = Hybrid {
        site: "b2".into(),
        channels: vec![0, 1, 2, 6],
        region: Some(rect),
        donor_seed: Some(77),
        donor_path: None,
    };
    let mut v = vec![
        ("none", Interventions::default()),
        (
            "ablation in a region",
            Interventions {
                edits: vec![ablate.clone()],
                ..Default::default()
            },
        ),
        (
            "insertion with strengths",
            Interventions {
                edits: vec![insert.clone()],
                ..Default::default()
            },
        ),
        (
            "hybrid",
            Interventions {
                hybrid: Some(hybrid.clone()),
                ..Default::default()
            },
        ),
        (
            "composed",
            Interventions {
                path: rpgan.then(|| vec![1, 0, 1, 0]),
                edits: vec![insert, ablate],
                hybrid: Some(hybrid),
                ..Default::default()
            },
        ),
    ];
    if rpgan {
        v.push((
            "fixed path",
            Interventions {
                path: Some(vec![1, 1, 0, 1]),
                ..Default::default()
            },
        ));
    }
    v
}

fn check_model(gpu: &Gpu, what: &str, bytes: Vec<u8>, rpgan: bool) {
    let mut m = GpuModel::load(gpu.clone(), bytes.clone()).expect("gpu load");
    m.backend().rec.poison.set(true);
    let cfg = m.meta.generator.clone();
    let sites: Vec<usize> = (0..cfg.buckets.len()).collect();
    let mut plain: Option<Vec<f32>> = None;
    for (name, iv) in interventions(rpgan) {
        let resolved = Resolved::new(&cfg, &iv).expect("resolve");
        let batch = Batch::new(&cfg, 5, 6, &iv).expect("batch");
        let want = cpu_render(&bytes, &batch, &resolved, &sites);
        let got = block_on(m.render(&batch, &resolved, &sites)).expect("gpu render");
        assert_eq!(got.shape, want.shape, "{what} / {name}");
        assert_close(
            &format!("{what} / {name}: images"),
            &got.images,
            &want.images,
            1e-4,
            1e-5,
        );
        // every intervention must change the picture (else the comparison proves nothing)
        match &plain {
            None => plain = Some(got.images.clone()),
            Some(p) => {
                let d = p
                    .iter()
                    .zip(&got.images)
                    .map(|(a, b)| (a - b).abs())
                    .fold(0.0, f32::max);
                assert!(d > 1e-3, "{what} / {name} left the images unchanged");
            }
        }
        for (g, w) in got.sites.iter().zip(&want.sites) {
            let label = format!("{what} / {name}: site b{}", g.site + 1);
            assert_close(&label, &g.data, &w.data, 1e-4, 1e-5);
        }
    }
    assert!(gpu.check().is_ok());
}

#[test]
fn bundled_rpgan_matches_candle() {
    let Some(g) = gpu() else { return };
    check_model(
        &g,
        "rpgan-colored-mnist",
        bundled("rpgan-colored-mnist.safetensors"),
        true,
    );
}

#[test]
fn bundled_gan_matches_candle() {
    let Some(g) = gpu() else { return };
    check_model(
        &g,
        "gan-colored-mnist",
        bundled("gan-colored-mnist.safetensors"),
        false,
    );
}

#[test]
fn snresnet_models_match_candle() {
    let Some(g) = gpu() else { return };
    check_model(
        &g,
        "snresnet rpgan",
        seeded(Family::SnResnet, Some((4, 2))),
        true,
    );
    check_model(&g, "snresnet", seeded(Family::SnResnet, None), false);
}

#[test]
fn linear_models_match_candle() {
    let Some(g) = gpu() else { return };
    check_model(
        &g,
        "linear rpgan",
        seeded(Family::Linear, Some((4, 2))),
        true,
    );
    check_model(&g, "linear", seeded(Family::Linear, None), false);
}

fn grid_batch(m: &GpuModel) -> (Batch, Resolved) {
    let cfg = &m.meta.generator;
    let iv = Interventions {
        hybrid: Some(Hybrid {
            site: "b3".into(),
            channels: vec![1, 4],
            region: None,
            donor_seed: None,
            donor_path: None,
        }),
        ..Default::default()
    };
    (
        Batch::new(cfg, 11, 7, &iv).expect("batch"),
        Resolved::new(cfg, &iv).expect("resolve"),
    )
}

#[test]
fn a_repeated_forward_allocates_no_buffer() {
    let Some(g) = gpu() else { return };
    let mut m = GpuModel::load(g, bundled("rpgan-colored-mnist.safetensors")).expect("load");
    let (batch, resolved) = grid_batch(&m);
    let first = block_on(m.render(&batch, &resolved, &[1])).expect("render");
    let pools = |m: &GpuModel| {
        let r = &m.backend().rec;
        (r.act.created(), r.upload.created(), r.staging.created())
    };
    let after_first = pools(&m);
    for _ in 0..3 {
        let again = block_on(m.render(&batch, &resolved, &[1])).expect("render");
        assert_eq!(again, first, "the same batch renders the same");
        assert_eq!(
            pools(&m),
            after_first,
            "buffers created by a repeated forward"
        );
    }
}

#[test]
fn batches_split_under_the_row_limit_render_the_same() {
    let Some(g) = gpu() else { return };
    let mut m = GpuModel::load(g, bundled("rpgan-colored-mnist.safetensors")).expect("load");
    m.backend().rec.poison.set(true);
    let (batch, resolved) = grid_batch(&m);
    let whole = block_on(m.render(&batch, &resolved, &[0, 2])).expect("render");
    m.set_max_rows(3);
    let split = block_on(m.render(&batch, &resolved, &[0, 2])).expect("render");
    assert_eq!(split, whole);
    let px = block_on(m.render_rgba(&batch, &resolved)).expect("rgba");
    let want = ganscope_model::sample::to_u8(&whole.images);
    assert_eq!(px.len(), 7 * 32 * 32 * 4);
    for (i, p) in px.chunks_exact(4).enumerate() {
        let (n, q) = (i / 1024, i % 1024);
        for c in 0..3 {
            assert_eq!(p[c], want[(n * 3 + c) * 1024 + q], "pixel {i} channel {c}");
        }
    }
}

#[test]
fn a_lost_device_is_recreated_and_the_weights_uploaded_again() {
    let Some(g) = gpu() else { return };
    let mut m = GpuModel::load(g.clone(), bundled("gan-colored-mnist.safetensors")).expect("load");
    let cfg = m.meta.generator.clone();
    let iv = Interventions::default();
    let (batch, resolved) = (
        Batch::new(&cfg, 3, 4, &iv).expect("batch"),
        Resolved::default_for(&cfg),
    );
    let before = block_on(m.render(&batch, &resolved, &[])).expect("render");
    g.device.destroy();
    let _ = g.device.poll(wgpu::PollType::wait_indefinitely());
    assert!(g.lost().is_some(), "destroying the device reports a loss");
    let after = block_on(m.render(&batch, &resolved, &[])).expect("render after loss");
    assert_eq!(after, before);
    assert!(m.backend().gpu().lost().is_none());
}

#[test]
fn bad_requests_are_typed_errors() {
    let Some(g) = gpu() else { return };
    let mut m =
        GpuModel::load(g.clone(), bundled("rpgan-colored-mnist.safetensors")).expect("load");
    let cfg = m.meta.generator.clone();
    let edit = |site: &str, unit: usize, region: Option<Region>| Interventions {
        edits: vec![UnitEdit {
            site: site.into(),
            units: vec![unit],
            strength: PerUnit::All(1.0),
            value: PerUnit::All(0.0),
            region,
        }],
        ..Default::default()
    };
    let mask = Region::Mask {
        height: 3,
        width: 3,
        data: vec![1.0; 9],
    };
    for (what, iv) in [
        ("unknown site", edit("b9", 0, None)),
        ("unit out of range", edit("b1", 10_000, None)),
        ("mask of the wrong size", edit("b2", 0, Some(mask))),
    ] {
        let e = Resolved::new(&cfg, &iv).expect_err(what);
        assert!(!e.to_string().is_empty());
    }
    let resolved = Resolved::default_for(&cfg);
    let mut batch = Batch::new(&cfg, 1, 2, &Interventions::default()).expect("batch");
    batch.paths[1][0] = 99;
    let e = block_on(m.render(&batch, &resolved, &[])).expect_err("path past a bucket");
    assert!(e.to_string().contains("block 99"), "{e}");
    let batch = Batch::new(&cfg, 1, 2, &Interventions::default()).expect("batch");
    let e = block_on(m.render(&batch, &resolved, &[7])).expect_err("site index");
    assert!(e.to_string().contains("site index 7"), "{e}");
    // a tensor past the device's binding limit is refused before anything reaches the GPU
    let b = m.backend();
    let x = ganscope_model::backend::Backend::tensor(b, vec![0.0; 64], &[1, 64]).expect("tensor");
    let rows = (g.max_binding() / 256 + 1) as usize;
    let e = ganscope_model::backend::Backend::repeat_batch(b, &x, rows).expect_err("too large");
    assert!(e.to_string().contains("smaller batch"), "{e}");
    assert!(g.check().is_ok(), "no GPU error may have been raised");
}

/// Prefix reuse computes what the plain forward computes: the RPGAN path grid (rows share
/// their prefixes), random paths (constant input), and a hybrid grid with repeated latents.
#[test]
fn prefix_reuse_renders_what_the_plain_forward_renders() {
    let Some(g) = gpu() else { return };
    for (file, bytes) in [
        ("rpgan", bundled("rpgan-colored-mnist.safetensors")),
        ("gan", bundled("gan-colored-mnist.safetensors")),
    ] {
        let mut m = GpuModel::load(g.clone(), bytes).expect("load");
        m.backend().rec.poison.set(true);
        let cfg = m.meta.generator.clone();
        let hybrid = Interventions {
            hybrid: Some(Hybrid {
                site: "b2".into(),
                channels: vec![0, 2, 9],
                region: None,
                donor_seed: Some(4),
                donor_path: None,
            }),
            edits: vec![UnitEdit {
                site: "b3".into(),
                units: vec![1],
                strength: PerUnit::All(0.7),
                value: PerUnit::All(1.0),
                region: None,
            }],
            ..Default::default()
        };
        let mut repeated = Batch::new(&cfg, 2, 6, &hybrid).expect("batch");
        if let Some(z) = &mut repeated.z {
            let d = cfg.latent_dim;
            let first = z[..d].to_vec();
            z[2 * d..3 * d].copy_from_slice(&first); // rows 0 and 2 share a latent
        }
        let mut cases = vec![
            (
                Batch::new(&cfg, 8, 9, &Interventions::default()).expect("batch"),
                Resolved::default_for(&cfg),
            ),
            (repeated, Resolved::new(&cfg, &hybrid).expect("resolve")),
        ];
        if cfg.is_rpgan() {
            let grid = Batch::vary_buckets(&cfg, 1, &[2, 5, 0, 7]).expect("grid").0;
            cases.push((grid, Resolved::new(&cfg, &hybrid).expect("resolve")));
        }
        for (i, (batch, resolved)) in cases.iter().enumerate() {
            m.set_prefix_reuse(true);
            let shared = block_on(m.render(batch, resolved, &[0, 3])).expect("shared");
            m.set_prefix_reuse(false);
            let plain = block_on(m.render(batch, resolved, &[0, 3])).expect("plain");
            let what = format!("{file} case {i}");
            assert_close(&what, &shared.images, &plain.images, 1e-4, 1e-5);
            for (a, b) in shared.sites.iter().zip(&plain.sites) {
                assert_close(&what, &a.data, &b.data, 1e-4, 1e-5);
            }
        }
    }
}

/// On a device with small buffers: a model whose weights do not fit is refused with a
/// message, and a batch is split into submissions that fit and renders the same.
#[test]
fn small_gpus_refuse_big_models_and_split_batches() {
    let Some(g) = gpu() else { return };
    let small = block_on(Gpu::with_buffer_limit(Some(64 * 1024))).expect("small device");
    assert_eq!(small.max_binding(), 64 * 1024);
    let e = match GpuModel::load(small.clone(), bundled("rpgan-colored-mnist.safetensors")) {
        Ok(_) => panic!("a 2 MiB weight fits a 64 KiB buffer"),
        Err(e) => e.to_string(),
    };
    assert!(e.contains("binds at most"), "{e}");
    let bytes = seeded(Family::SnResnet, Some((4, 2)));
    let mut m = GpuModel::load(small, bytes.clone()).expect("load");
    assert!(
        m.max_rows() < 7,
        "the test needs a split: {} rows fit",
        m.max_rows()
    );
    let mut big = GpuModel::load(g, bytes).expect("load");
    let cfg = m.meta.generator.clone();
    let (batch, resolved) = (
        Batch::new(&cfg, 6, 7, &Interventions::default()).expect("batch"),
        Resolved::default_for(&cfg),
    );
    let split = block_on(m.render(&batch, &resolved, &[2])).expect("split render");
    let whole = block_on(big.render(&batch, &resolved, &[2])).expect("render");
    assert_close("split images", &split.images, &whole.images, 1e-4, 1e-5);
    assert_close(
        "split site",
        &split.sites[0].data,
        &whole.sites[0].data,
        1e-4,
        1e-5,
    );
    // a forward of more dispatches than one submission's parameter slots: several submissions
    big.backend().rec.poison.set(true);
    big.backend().rec.limit_dispatches(5);
    let again = block_on(big.render(&batch, &resolved, &[2])).expect("render in pieces");
    assert_eq!(again, whole);
}

/// A layer program with every op kind: dense, reshape, BatchNorm + LeakyReLU, nearest and
/// bilinear up-sampling, convs with and without bias, 1x1 and 3x3, a residual op with a
/// conv shortcut and one with the identity, a transposed conv, sigmoid and tanh.
fn program(rpgan: bool) -> Vec<u8> {
    use ganscope_model::config::BucketConfig;
    use ganscope_model::program::{Op, Resize};
    let conv = |out, kernel, padding, bias| Op::Conv {
        out,
        kernel,
        stride: 1,
        padding,
        bias,
    };
    let layers = vec![
        vec![
            Op::Dense {
                out: 8 * 4 * 4,
                bias: true,
            },
            Op::Reshape { shape: [8, 4, 4] },
            Op::BatchNorm,
            Op::LeakyRelu { slope: 0.2 },
        ],
        vec![
            Op::Upsample {
                mode: Resize::Nearest,
            },
            conv(8, 3, 1, false),
            Op::BatchNorm,
            Op::Relu,
        ],
        vec![Op::Residual {
            main: vec![
                Op::BatchNorm,
                Op::Relu,
                Op::Upsample {
                    mode: Resize::Bilinear,
                },
                conv(8, 3, 1, true),
            ],
            shortcut: vec![
                Op::Upsample {
                    mode: Resize::Nearest,
                },
                conv(8, 1, 0, true),
            ],
        }],
        vec![
            Op::ConvTranspose {
                out: 6,
                kernel: 4,
                stride: 2,
                padding: 1,
                bias: true,
            },
            Op::Sigmoid,
            Op::Residual {
                main: vec![conv(6, 3, 1, true)],
                shortcut: vec![],
            },
        ],
        vec![conv(3, 3, 1, true), Op::Tanh],
    ];
    let buckets = if rpgan {
        [1, 1, 1, 2]
            .map(|layers| BucketConfig { layers, blocks: 2 })
            .to_vec()
    } else {
        vec![
            BucketConfig {
                layers: 1,
                blocks: 1
            };
            5
        ]
    };
    let g = GeneratorConfig {
        family: Family::Program,
        image_size: 32,
        channels: 3,
        latent_dim: 16,
        constant_input: rpgan,
        widths: vec![],
        buckets,
        program: Some(layers),
    };
    seeded_model_bytes(&g, 0.3).expect("bytes")
}

#[test]
fn layer_programs_match_candle() {
    let Some(g) = gpu() else { return };
    check_model(&g, "program", program(false), false);
    check_model(&g, "program rpgan", program(true), true);
}

/// `tests/fixtures/programs/all-ops.safetensors` is [`program`]`(false)`, for the page's
/// forward test (`tests/browser/gpu-forward.mjs`: every kernel through Chrome's WGSL
/// compiler). `GANSCOPE_WRITE_FIXTURES=1` rewrites it.
#[test]
fn the_program_fixture_is_current() {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/programs/all-ops.safetensors");
    let want = program(false);
    if std::env::var_os("GANSCOPE_WRITE_FIXTURES").is_some() {
        std::fs::create_dir_all(p.parent().expect("folder")).expect("mkdir");
        std::fs::write(&p, &want).expect("write");
    }
    let got = std::fs::read(&p).unwrap_or_default();
    assert!(got == want, "{} is stale: GANSCOPE_WRITE_FIXTURES=1 cargo test -p ganscope-gpu --test forward the_program_fixture", p.display());
}
