//! The analyses on synthetic generators whose answer is known: a bucket that only changes
//! colour, channels that only reach one half of the image, a unit that copies a mask.

use ganscope_analysis::buckets::{responsibility, BucketOptions};
use ganscope_analysis::dissect::{dissect, upsample, RuleSegmenter, Sample, Segmenter};
use ganscope_analysis::influence::{influence_maps, module_hybrids, modules};
use ganscope_analysis::metrics::Features;
use ganscope_analysis::renderer::{block_on, Frames, Renderer, Rendering};
use ganscope_analysis::Result;
use ganscope_model::config::{Family, GeneratorConfig, Rpgan};
use ganscope_model::generator::site_shapes;
use ganscope_model::intervention::{MixVectors, Resolved};
use ganscope_model::sample::Batch;

const S: usize = 32;

#[derive(Clone, Copy)]
enum Mode {
    /// bucket 1: square size, bucket 2: square position, bucket 3: colour only
    Squares,
    /// site 0 activations from the path; channel 0 paints the left half, channel 1 the
    /// right half, the other channels nothing
    Halves,
}

struct Toy {
    cfg: GeneratorConfig,
    mode: Mode,
}

fn toy(mode: Mode) -> Toy {
    Toy {
        cfg: GeneratorConfig::new(Family::Dcgan, S, 3, 8, Some(Rpgan::new(3, 6))).expect("config"),
        mode,
    }
}

/// A deterministic value in [-1, 1] for a path and a channel.
fn act(path: &[usize], c: usize) -> f32 {
    let mut h: u64 = 1469598103934665603;
    for &x in path.iter().chain([&c]) {
        h = (h ^ x as u64).wrapping_mul(1099511628211);
    }
    ((h >> 11) % 2001) as f32 / 1000.0 - 1.0
}

impl Toy {
    fn channels(&self) -> usize {
        site_shapes(&self.cfg)[0].1[0]
    }

    fn paint(&self, path: &[usize], a: &[f32]) -> Vec<f32> {
        let mut img = vec![-1.0; 3 * S * S];
        match self.mode {
            Mode::Squares => {
                let colours = [
                    [1.0, -1.0, -1.0],
                    [-1.0, 1.0, -1.0],
                    [-1.0, -1.0, 1.0],
                    [1.0, 1.0, -1.0],
                    [1.0, -1.0, 1.0],
                    [-1.0, 1.0, 1.0],
                ];
                let side = 6 + 2 * path[0];
                let x0 = 2 + 3 * path[1];
                for c in 0..3 {
                    for y in 8..8 + side {
                        for x in x0..(x0 + side).min(S) {
                            img[c * S * S + y * S + x] = colours[path[2]][c];
                        }
                    }
                }
            }
            Mode::Halves => {
                for c in 0..3 {
                    for y in 0..S {
                        for x in 0..S {
                            img[c * S * S + y * S + x] = if x < S / 2 { a[0] } else { a[1] };
                        }
                    }
                }
            }
        }
        img
    }
}

impl Renderer for Toy {
    fn config(&self) -> &GeneratorConfig {
        &self.cfg
    }
    fn describe(&self) -> String {
        "a synthetic generator".into()
    }
    fn render<'a>(
        &'a mut self,
        batch: &'a Batch,
        _: &'a Resolved,
        sites: &'a [usize],
    ) -> Rendering<'a, Frames> {
        assert!(sites.is_empty());
        let c = self.channels();
        let mut images = Vec::new();
        for p in &batch.paths[..batch.n] {
            let a: Vec<f32> = (0..c).map(|k| act(p, k)).collect();
            images.extend(self.paint(p, &a));
        }
        Box::pin(std::future::ready(Ok(Frames {
            n: batch.n,
            images,
            sites: vec![],
        })))
    }
    fn hybrid_sets<'a>(
        &'a mut self,
        batch: &'a Batch,
        _: &'a Resolved,
        site: usize,
        sets: &'a [MixVectors],
    ) -> Rendering<'a, Vec<f32>> {
        assert_eq!(site, 0);
        let c = self.channels();
        let mut out = Vec::new();
        for m in sets {
            for r in 0..batch.n {
                let (pb, pd) = (&batch.paths[r], &batch.paths[batch.donors[r]]);
                let a: Vec<f32> = (0..c)
                    .map(|k| (1.0 - m.channels[k]) * act(pb, k) + m.channels[k] * act(pd, k))
                    .collect();
                out.extend(self.paint(pb, &a));
            }
        }
        Box::pin(std::future::ready(Ok(out)))
    }
}

/// Colour-blind features: the brightest channel of each pixel.
struct Brightness;

impl Features for Brightness {
    fn dim(&self) -> usize {
        S * S
    }
    fn features(&self, images: &[f32], n: usize) -> Result<Vec<f32>> {
        let px = S * S;
        Ok((0..n)
            .flat_map(|i| {
                let img = &images[i * 3 * px..(i + 1) * 3 * px];
                (0..px).map(move |p| img[p].max(img[px + p]).max(img[2 * px + p]))
            })
            .collect())
    }
    fn describe(&self) -> String {
        "brightness".into()
    }
}

#[test]
fn a_bucket_that_only_changes_colour_has_colour_but_no_semantic_responsibility() {
    let mut t = toy(Mode::Squares);
    let o = BucketOptions {
        evaluations: 30,
        images: 4,
        seed: 3,
    };
    let r = block_on(responsibility(
        &mut t,
        Some(&Brightness),
        &o,
        &mut |_, _| {},
    ))
    .expect("buckets");
    assert_eq!(r.buckets.len(), 3);
    assert_eq!((r.evaluations, r.skipped), (30, 0));
    let b1 = &r.buckets[0];
    let b3 = &r.buckets[2];
    assert!(
        (b1.colour_mean.mean - 1.0).abs() < 1e-9,
        "bucket 1 relative to itself"
    );
    let sem3 = b3.semantic.expect("semantic").mean;
    assert_eq!(sem3, 0.0, "colour changes are invisible to the features");
    assert!(
        b3.colour_mean.mean > 0.5,
        "colour ratio {}",
        b3.colour_mean.mean
    );
    assert!(r.buckets[1].semantic.expect("semantic").mean > 0.1);
}

#[test]
fn influence_of_a_channel_that_reaches_only_the_left_half_is_zero_on_the_right() {
    let mut t = toy(Mode::Halves);
    let maps = block_on(influence_maps(&mut t, 0, 40, 1, &mut |_, _| {})).expect("influence");
    let c = t.channels();
    assert_eq!(maps.maps.len(), c * S * S);
    let px = S * S;
    let half = |k: usize, left: bool| -> f32 {
        (0..px)
            .filter(|p| (p % S < S / 2) == left)
            .map(|p| maps.maps[k * px + p])
            .sum()
    };
    assert!(half(0, true) > 1.0, "channel 0 moves the left half");
    assert_eq!(
        half(0, false),
        0.0,
        "channel 0 never reaches the right half"
    );
    assert!(half(1, false) > 1.0);
    assert_eq!(half(1, true), 0.0);
    for k in 2..c {
        assert_eq!(
            half(k, true) + half(k, false),
            0.0,
            "channel {k} has no influence"
        );
    }
    // two modules split channel 0 from channel 1; the templates are the two halves
    let m = modules(&maps, 2, 3, 0.75, 0).expect("modules");
    assert_ne!(m.labels[0], m.labels[1]);
    let t0 = &m.templates[m.labels[0].expect("channel 0 has a module") * px..][..px];
    assert!(
        m.labels[2..].iter().all(Option::is_none),
        "flat maps join no module"
    );
    assert!(
        t0[S / 4] > 0.5 && t0[S - 1 - S / 4] < 0.05,
        "template of channel 0 is the left half"
    );
    // module hybrids: original 1, original 2, one per module
    let y = block_on(module_hybrids(&mut t, 0, &m, 3, 5)).expect("module hybrids");
    assert_eq!(y.len(), 3 * (2 + 2) * 3 * px);
}

#[test]
fn a_unit_that_copies_a_mask_has_iou_one() {
    let seg = RuleSegmenter::default();
    let n = 20;
    let px = S * S;
    let mut images = Vec::new();
    let mut acts = Vec::new();
    for i in 0..n {
        let mut img = vec![-1.0f32; 3 * px];
        for (p, v) in img[..px].iter_mut().enumerate() {
            if (p * 7 + i * 13) % 11 < 3 {
                *v = 0.9; // red stroke
            }
        }
        let masks = seg.segment(&img, 3);
        // unit 0 copies the stroke, unit 1 the background, unit 2 is dead
        acts.extend(masks[1].iter().map(|&b| f32::from(u8::from(b))));
        acts.extend(masks[0].iter().map(|&b| 2.0 * f32::from(u8::from(b))));
        acts.extend(std::iter::repeat_n(0.5, px));
        images.extend(img);
    }
    let s = Sample {
        frames: Frames {
            n,
            images,
            sites: vec![acts],
        },
        shape: [3, S, S],
        site: 0,
    };
    let d = dissect(&s, &seg, 3, S, 5, 0.99).expect("dissect");
    let stroke = d
        .concepts
        .iter()
        .position(|c| c == "stroke")
        .expect("stroke");
    let red = d.concepts.iter().position(|c| c == "red").expect("red");
    assert_eq!(d.iou[0][stroke], 1.0);
    assert_eq!(d.iou[0][red], 1.0);
    assert_eq!(d.iou[1][0], 1.0, "background");
    assert_eq!(d.labels[1], ("background".to_string(), 1.0));
    assert!(
        d.iou[2].iter().all(|&v| v == 0.0),
        "a constant unit is never active"
    );
}

#[test]
fn bilinear_upsampling_aligns_pixel_centres() {
    // a 2x2 map [0 1; 0 1] to 4x4: every row is 0, 0.25, 0.75, 1
    let up = upsample(&[0.0, 1.0, 0.0, 1.0], 2, 2, 4);
    for row in up.chunks(4) {
        assert_eq!(row, [0.0, 0.25, 0.75, 1.0]);
    }
    // a unit active in the top-left cell of an 8x8 site covers the top-left of a 32x32 image
    let mut map = vec![0.0; 64];
    map[0] = 1.0;
    let up = upsample(&map, 8, 8, 32);
    assert!(up[0] == 1.0 && up[32 + 1] == 1.0, "inside the cell");
    assert_eq!(up[8 * 32 + 8], 0.0, "two cells away");
}
