//! A long session of different interventions on one model (path clicks, brush strokes of unit
//! edits with varying units and masks, hybrid channel changes, as the lab page's faults test
//! makes them) holds the recorder's bind-group cache: after a warm-up it grows by at most
//! 10% (the buffer pools do not grow at all), and what the session uses stays cached.

mod common;

use common::gpu;
use ganscope_gpu::recorder::BIND_GROUPS_MAX;
use ganscope_gpu::{block_on, GpuModel};
use ganscope_model::intervention::{Hybrid, Interventions, PerUnit, Region, Resolved, UnitEdit};
use ganscope_model::sample::Batch;

const WARMUP: usize = 30;
const EDITS: usize = 60;

fn bundled(name: &str) -> Vec<u8> {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../www/models")
        .join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Edit number `i`, cycling through a path click, a brush stroke and a hybrid change.
fn edit(m: &GpuModel, i: usize) -> Interventions {
    let cfg = &m.meta.generator;
    let sites = m.generator().sites();
    match i % 3 {
        0 => Interventions {
            path: Some(
                cfg.blocks()
                    .iter()
                    .enumerate()
                    .map(|(b, &k)| (i + 3 * b) % k)
                    .collect(),
            ),
            ..Default::default()
        },
        1 => {
            let [c, h, w] = sites[2].1;
            let (r, cx) = (1 + i % 5, i % w);
            let data = (0..h * w)
                .map(|p| {
                    let (dx, dy) = ((p % w) as f32 - cx as f32, (p / w) as f32 - h as f32 / 2.0);
                    f32::from(u8::from(dx * dx + dy * dy <= (r * r) as f32))
                })
                .collect();
            let mut units = vec![i % c, (i * 7) % c];
            units.dedup();
            Interventions {
                edits: vec![UnitEdit {
                    site: sites[2].0.clone(),
                    units,
                    strength: PerUnit::All(1.0),
                    value: PerUnit::All(0.0),
                    region: Some(Region::Mask {
                        height: h,
                        width: w,
                        data,
                    }),
                }],
                ..Default::default()
            }
        }
        _ => {
            let c = sites[1].1[0];
            let mut channels = vec![i % c, (i * 5) % c];
            channels.sort_unstable();
            channels.dedup();
            Interventions {
                hybrid: Some(Hybrid {
                    site: sites[1].0.clone(),
                    channels,
                    region: None,
                    donor_seed: Some(i as u64),
                    donor_path: None,
                }),
                ..Default::default()
            }
        }
    }
}

fn session(m: &mut GpuModel, from: usize, count: usize) {
    for i in from..from + count {
        let iv = edit(m, i);
        let cfg = &m.meta.generator;
        let resolved = Resolved::new(cfg, &iv).expect("resolve");
        let batch = Batch::new(cfg, i as u64, 1 + i % 4, &iv).expect("batch");
        block_on(m.render(&batch, &resolved, &[2])).expect("render");
    }
}

#[test]
fn a_long_session_of_edits_holds_the_bind_group_cache() {
    let Some(g) = gpu() else { return };
    let mut m =
        GpuModel::load(g.clone(), bundled("rpgan-colored-mnist.safetensors")).expect("load");
    session(&mut m, 0, WARMUP);
    let rec = &m.backend().rec;
    let (groups, buffers) = (rec.bind_groups(), rec.buffers_created());
    session(&mut m, WARMUP, EDITS);
    let rec = &m.backend().rec;
    let (groups_after, buffers_after) = (rec.bind_groups(), rec.buffers_created());
    eprintln!("bind groups {groups} -> {groups_after}, buffers {buffers} -> {buffers_after}");
    assert!(
        groups_after as f64 <= 1.1 * groups as f64,
        "bind groups grew from {groups} to {groups_after} over {EDITS} edits"
    );
    assert!(
        groups_after <= BIND_GROUPS_MAX,
        "{groups_after} bind groups cached"
    );
    assert!(
        buffers_after as f64 <= 1.1 * buffers as f64,
        "buffers grew from {buffers} to {buffers_after} over {EDITS} edits"
    );
    // the cache keeps what is used: the same edit rendered again soon creates no bind group
    let iv = edit(&m, 1);
    let cfg = m.meta.generator.clone();
    let resolved = Resolved::new(&cfg, &iv).expect("resolve");
    let batch = Batch::new(&cfg, 3, 4, &iv).expect("batch");
    let mut made = Vec::new();
    for _ in 0..4 {
        let before = m.backend().rec.bind_groups_created();
        block_on(m.render(&batch, &resolved, &[2])).expect("render");
        made.push(m.backend().rec.bind_groups_created() - before);
    }
    // (the first two renders take the pool's buffers in a new order, then it repeats)
    assert_eq!(
        made[2..],
        [0, 0],
        "bind groups created by renders of one edit: {made:?}"
    );
    assert!(g.check().is_ok(), "no GPU error may have been raised");
}
