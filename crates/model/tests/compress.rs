//! `ganscope compress`: every path of the compressed linear RPGAN renders the image of the
//! original path its tuple names, and what cannot be merged is refused.

use ganscope_model::candle_backend::{load_candle, CandleBackend};
use ganscope_model::compress::{compress, CompressOptions};
use ganscope_model::config::{Family, GeneratorConfig, Rpgan};
use ganscope_model::format::seeded_model_bytes;
use ganscope_model::intervention::{Interventions, Resolved};
use ganscope_model::sample::{render, Batch};

fn seeded(family: Family, rpgan: Option<Rpgan>) -> Vec<u8> {
    let mut g = GeneratorConfig::new(family, 28, 1, 4, rpgan).expect("config");
    g.latent_dim = 8;
    seeded_model_bytes(&g, 0.4).expect("bytes")
}

/// Images of `paths` rendered by the model in `bytes`.
fn images(bytes: &[u8], paths: &[Vec<usize>]) -> Vec<f32> {
    let m = load_candle(bytes, &candle_core::Device::Cpu).expect("load");
    let cfg = &m.generator.config;
    let iv = Interventions::default();
    let mut batch = Batch::new(cfg, 0, paths.len(), &iv).expect("batch");
    batch.paths = paths.to_vec();
    let resolved = Resolved::new(cfg, &iv).expect("resolve");
    let y = render(
        &m.generator,
        &CandleBackend::cpu(),
        &batch,
        &resolved,
        &mut |_, _| Ok(()),
    )
    .expect("render");
    y.flatten_all().and_then(|t| t.to_vec1()).expect("vec")
}

fn worst(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

#[test]
fn compressed_paths_render_their_tuples() {
    let bytes = seeded(Family::Linear, Some(Rpgan::new(5, 3)));
    for blocks in [27, 5] {
        let o = CompressOptions {
            first: 2,
            last: 4,
            blocks,
            seed: 9,
            f16: false,
        };
        let (meta, small) = compress(&bytes, &o).expect("compress");
        assert_eq!(meta.generator.blocks(), vec![3, 3, blocks]);
        assert_eq!(meta.generator.widths, vec![4, 8]);
        let tuples: Vec<Vec<usize>> = serde_json::from_value(
            meta.analysis.as_ref().expect("record")["compression"]["tuples"].clone(),
        )
        .expect("tuples");
        assert_eq!(tuples.len(), blocks);
        let (mut old, mut new) = (Vec::new(), Vec::new());
        for (k, t) in tuples.iter().enumerate() {
            let head = [k % 3, (k / 3) % 3];
            old.push([&head[..], t].concat());
            new.push(vec![head[0], head[1], k]);
        }
        let (want, got) = (images(&bytes, &old), images(&small, &new));
        let worst = worst(&want, &got);
        assert!(worst < 1e-5, "{blocks} blocks: off by {worst}");
        let spread = want.iter().map(|v| v.abs()).fold(0.0f32, f32::max);
        assert!(spread > 0.1, "the images are not all zero");
    }
}

#[test]
fn middle_buckets_merge_and_later_ones_are_renamed() {
    let bytes = seeded(Family::Linear, Some(Rpgan::new(5, 2)));
    let o = CompressOptions {
        first: 1,
        last: 2,
        blocks: 3,
        seed: 1,
        f16: true,
    };
    let (meta, small) = compress(&bytes, &o).expect("compress");
    assert_eq!(meta.generator.blocks(), vec![2, 3, 2, 2]);
    let tuples = &meta.analysis.as_ref().expect("record")["compression"]["tuples"];
    let t: Vec<Vec<usize>> = serde_json::from_value(tuples.clone()).expect("tuples");
    let old = vec![vec![1, t[2][0], t[2][1], 0, 1]];
    let new = vec![vec![1, 2, 0, 1]];
    let worst = worst(&images(&bytes, &old), &images(&small, &new));
    assert!(worst < 5e-3, "f16 storage: off by {worst}");
}

#[test]
fn what_cannot_merge_is_refused() {
    let linear = seeded(Family::Linear, Some(Rpgan::new(5, 2)));
    let dcgan = seeded(Family::Dcgan, Some(Rpgan::new(3, 2)));
    let o = |first, last, blocks| CompressOptions {
        first,
        last,
        blocks,
        seed: 0,
        f16: false,
    };
    let err = |b: &[u8], o: CompressOptions| compress(b, &o).expect_err("refused").to_string();
    assert!(err(&dcgan, o(0, 1, 2)).contains("only a linear generator"));
    assert!(err(&linear, o(2, 2, 2)).contains("at least two"));
    assert!(err(&linear, o(3, 5, 2)).contains("at least two"));
    assert!(err(&linear, o(3, 4, 5)).contains("1..=4"));
    assert!(err(&linear, o(3, 4, 0)).contains("1..=4"));
}
