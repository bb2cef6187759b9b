//! Replays every saved fuzz input (`fuzz/corpus/*` and the crashes kept in
//! `fuzz/regressions/*`) through the fuzz targets' bodies, so CI runs them as plain tests.
//! `cargo test -p ganscope-model --test fuzz_corpus -- --ignored` rewrites the seed inputs
//! (tiny real model files, hand-made hostile ones, intervention JSON).

mod common;

use std::path::{Path, PathBuf};

use common::random_model;
use ganscope_model::config::{Family, Rpgan};
use ganscope_model::format::to_bytes;
use ganscope_model::fuzzing;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz")
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    v.sort();
    v
}

#[test]
fn every_saved_fuzz_input_runs_without_a_panic() {
    let mut n = 0;
    for (target, run) in [
        ("model_file", fuzzing::model_file as fn(&[u8])),
        ("interventions", fuzzing::interventions),
    ] {
        for kind in ["corpus", "regressions"] {
            for f in files(&root().join(kind).join(target)) {
                let data = std::fs::read(&f).expect("read");
                run(&data);
                n += 1;
            }
        }
    }
    assert!(n >= 20, "only {n} saved inputs: the seed corpus is missing");
}

fn put(dir: &Path, name: &str, bytes: &[u8]) {
    std::fs::create_dir_all(dir).expect("mkdir");
    std::fs::write(dir.join(name), bytes).expect("write");
}

#[test]
#[ignore = "rewrites fuzz/corpus seeds"]
fn write_seed_corpus() {
    let dir = root().join("corpus/model_file");
    let mut good = Vec::new();
    for (name, family, rpgan, half) in [
        (
            "dcgan-rpgan-f16",
            Family::Dcgan,
            Some(Rpgan::new(4, 2)),
            true,
        ),
        ("dcgan-f32", Family::Dcgan, None, false),
        (
            "snresnet-rpgan-f16",
            Family::SnResnet,
            Some(Rpgan::new(2, 2)),
            true,
        ),
        (
            "linear-rpgan-f16",
            Family::Linear,
            Some(Rpgan::new(3, 2)),
            true,
        ),
    ] {
        let m = random_model(family, 32, 3, rpgan, 1);
        let bytes = to_bytes(&m.meta, &m.tensors, half).expect("bytes");
        put(&dir, &format!("{name}.safetensors"), &bytes);
        good.push(bytes);
    }
    let g = &good[0];
    let hl = u64::from_le_bytes(g[..8].try_into().expect("8 bytes")) as usize;
    let header = String::from_utf8_lossy(&g[8..8 + hl]).to_string();
    let with = |h: &str, rest: &[u8]| {
        let mut v = (h.len() as u64).to_le_bytes().to_vec();
        v.extend_from_slice(h.as_bytes());
        v.extend_from_slice(rest);
        v
    };
    let body = &g[8 + hl..];
    put(
        &dir,
        "header-2-63",
        &[&(1u64 << 63).to_le_bytes()[..], &g[8..]].concat(),
    );
    put(
        &dir,
        "header-past-end",
        &[&(hl as u64 + 100).to_le_bytes()[..], &g[8..8 + hl]].concat(),
    );
    put(&dir, "truncated", &g[..g.len() / 2]);
    put(&dir, "empty", b"");
    put(&dir, "not-json", &with("{not json", body));
    put(
        &dir,
        "offsets-past-end",
        &with(
            &header.replacen("\"data_offsets\":[0,", "\"data_offsets\":[999999999,", 1),
            body,
        ),
    );
    put(
        &dir,
        "dtype-i64",
        &with(&header.replacen("\"F16\"", "\"I64\"", 1), body),
    );
    put(
        &dir,
        "version-99",
        &with(
            &header.replacen("format_version\\\":2", "format_version\\\":99", 1),
            body,
        ),
    );
    put(
        &dir,
        "zero-dim",
        &with(&header.replacen("\"shape\":[", "\"shape\":[0,", 1), body),
    );
    let nan: Vec<u8> = body
        .iter()
        .enumerate()
        .map(|(i, &b)| if i < 64 { 0xff } else { b })
        .collect();
    put(&dir, "non-finite", &with(&header, &nan));
    for f in files(&dir) {
        let hostile = !f.to_string_lossy().ends_with(".safetensors");
        let bytes = std::fs::read(&f).expect("read");
        let refused = ganscope_model::format::ModelFile::parse(&bytes).is_err();
        assert_eq!(refused, hostile, "{}", f.display());
    }

    let dir = root().join("corpus/interventions");
    for (name, json) in [
        ("empty", "{}"),
        ("path", r#"{"path":[1,0,7,3]}"#),
        ("ablate", r#"{"edits":[{"site":"b2","units":[0,5,9]}]}"#),
        (
            "insert-rect",
            r#"{"edits":[{"site":"b3","units":[1,2],"strength":[0.5,1],"value":[3,4],"region":{"kind":"rect","top":0,"left":0,"bottom":0.5,"right":1}}]}"#,
        ),
        (
            "mask",
            r#"{"edits":[{"site":"b1","units":[0],"region":{"kind":"mask","height":4,"width":4,"data":[1,0,1,0,1,0,1,0,1,0,1,0,1,0,1,0]}}]}"#,
        ),
        (
            "hybrid",
            r#"{"hybrid":{"site":"b2","channels":[0,1,2],"donor_seed":9,"donor_path":[0,1,2,3]}}"#,
        ),
        (
            "composed",
            r#"{"path":[0,0,0,0],"edits":[{"site":"b2","units":[3]}],"hybrid":{"site":"b3","channels":[4],"region":{"kind":"rect","top":0.2,"left":0.2,"bottom":0.8,"right":0.8}}}"#,
        ),
        ("bad-site", r#"{"edits":[{"site":"b9","units":[0]}]}"#),
        (
            "huge-unit",
            r#"{"edits":[{"site":"b2","units":[18446744073709551615]}]}"#,
        ),
        (
            "nan-region",
            r#"{"edits":[{"site":"b2","units":[0],"region":{"kind":"rect","top":1e999,"left":0,"bottom":1,"right":1}}]}"#,
        ),
        (
            "shift-z",
            r#"{"shifts":[{"site":"z","vector":[0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1],"amount":-2.5}]}"#,
        ),
        (
            "shift-bad",
            r#"{"shifts":[{"site":"b1","vector":[1e999,0],"amount":1e38},{"site":"z","vector":[],"amount":0}]}"#,
        ),
        (
            "mask-huge",
            r#"{"edits":[{"site":"b2","units":[0],"region":{"kind":"mask","height":4294967296,"width":4294967296,"data":[]}}]}"#,
        ),
    ] {
        put(&dir, name, json.as_bytes());
    }
}
