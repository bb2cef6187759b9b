//! The model file: export -> load round trip (bit-exact in f32, within f16 precision in f16),
//! and malformed files each rejected with its own error.

mod common;
use candle_core::Device;
use common::{random_model, to_vec};
use ganscope_model::candle_backend::{load_candle, CandleBackend};
use ganscope_model::config::{Family, Rpgan};
use ganscope_model::format::{to_bytes, ModelFile, ModelMeta, NamedTensor, MAX_HEADER};
use ganscope_model::intervention::{Interventions, Resolved};
use ganscope_model::sample::{render, Batch};
use ganscope_model::{Error, FileError};

fn model_bytes(rpgan: Option<Rpgan>) -> (ModelMeta, Vec<NamedTensor>, Vec<u8>) {
    let m = random_model(Family::Dcgan, 32, 3, rpgan, 4);
    let bytes = to_bytes(&m.meta, &m.tensors, false).expect("serialise");
    (m.meta, m.tensors, bytes)
}

#[test]
fn f32_round_trip_is_bit_exact_and_renders_the_same() {
    for rpgan in [None, Some(Rpgan::new(4, 3))] {
        let m = random_model(Family::Dcgan, 32, 3, rpgan, 4);
        let bytes = to_bytes(&m.meta, &m.tensors, false).expect("serialise");
        let file = ModelFile::parse(&bytes).expect("parse");
        assert_eq!(file.meta, m.meta);
        for (name, shape, values) in &m.tensors {
            assert_eq!(&file.tensors[name].shape, shape);
            let back = file.data(name).expect("data");
            assert!(
                back.iter()
                    .zip(values)
                    .all(|(a, b)| a.to_bits() == b.to_bits()),
                "{name}"
            );
        }
        let loaded = load_candle(&bytes, &Device::Cpu).expect("load");
        let be = CandleBackend::cpu();
        let iv = Interventions::default();
        let b = Batch::new(&m.g.config, 9, 3, &iv).expect("batch");
        let r = Resolved::new(&m.g.config, &iv).expect("resolve");
        let a = to_vec(&render(&m.g, &be, &b, &r, &mut |_, _| Ok(())).expect("render"));
        let c =
            to_vec(&render(&loaded.generator, &be, &b, &r, &mut |_, _| Ok(())).expect("render"));
        assert!(a == c, "the loaded model renders differently");
        assert!(loaded.discriminator.is_some());
    }
}

#[test]
fn f16_storage_halves_the_file_and_stays_close() {
    let m = random_model(Family::SnResnet, 32, 3, None, 4);
    let full = to_bytes(&m.meta, &m.tensors, false).expect("f32");
    let half = to_bytes(&m.meta, &m.tensors, true).expect("f16");
    let data_len =
        |b: &[u8]| b.len() - 8 - u64::from_le_bytes(b[..8].try_into().expect("8")) as usize;
    assert_eq!(data_len(&half) * 2, data_len(&full));
    let file = ModelFile::parse(&half).expect("parse f16");
    for (name, _, values) in &m.tensors {
        let back = file.data(name).expect("data");
        assert!(
            back.iter()
                .zip(values)
                .all(|(a, b)| (a - b).abs() <= 1e-3 * b.abs().max(1.0)),
            "{name}"
        );
    }
}

/// Rewrites the header of a valid file through `edit` (on the JSON value) and returns the
/// new file (data section unchanged).
fn with_header(bytes: &[u8], edit: impl FnOnce(&mut serde_json::Value)) -> Vec<u8> {
    let n = u64::from_le_bytes(bytes[..8].try_into().expect("8 bytes")) as usize;
    let mut h: serde_json::Value = serde_json::from_slice(&bytes[8..8 + n]).expect("json");
    edit(&mut h);
    let hs = serde_json::to_vec(&h).expect("json");
    let mut out = (hs.len() as u64).to_le_bytes().to_vec();
    out.extend(hs);
    out.extend(&bytes[8 + n..]);
    out
}

fn meta_edit(bytes: &[u8], edit: impl FnOnce(&mut serde_json::Value)) -> Vec<u8> {
    with_header(bytes, |h| {
        let s = h["__metadata__"]["ganscope"]
            .as_str()
            .expect("meta")
            .to_string();
        let mut m: serde_json::Value = serde_json::from_str(&s).expect("meta json");
        edit(&mut m);
        h["__metadata__"]["ganscope"] = serde_json::Value::String(m.to_string());
    })
}

fn file_error(bytes: &[u8]) -> FileError {
    match ModelFile::parse(bytes) {
        Err(Error::InvalidFile(e)) => e,
        Err(e) => panic!("expected a file error, got {e}"),
        Ok(_) => panic!("a malformed file was accepted"),
    }
}

#[test]
fn malformed_files_each_get_their_own_error() {
    let (_, tensors, good) = model_bytes(Some(Rpgan::new(4, 3)));
    let first = tensors[0].0.clone();
    let n = u64::from_le_bytes(good[..8].try_into().expect("8")) as usize;

    assert_eq!(file_error(&good[..5]), FileError::TooShort(5));
    let mut huge = good.clone();
    huge[..8].copy_from_slice(&(1u64 << 63).to_le_bytes());
    assert_eq!(file_error(&huge), FileError::HeaderTooLarge(1 << 63));
    let mut past = good.clone();
    past[..8].copy_from_slice(&(MAX_HEADER - 1).to_le_bytes());
    assert!(matches!(file_error(&past), FileError::HeaderPastEnd { .. }));
    assert!(
        matches!(
            file_error(&good[..8 + n / 2]),
            FileError::HeaderPastEnd { .. }
        ),
        "truncated in the header"
    );
    assert!(
        matches!(
            file_error(&good[..good.len() - 7]),
            FileError::BadOffsets { .. }
        ),
        "truncated in the data"
    );
    let mut garbage = good.clone();
    garbage[8] = b'!';
    assert!(matches!(file_error(&garbage), FileError::BadHeaderJson(_)));

    let overlap = with_header(&good, |h| {
        let (a, b) = (
            h[&tensors[1].0]["data_offsets"][0].clone(),
            h[&tensors[1].0]["data_offsets"][1].clone(),
        );
        let len = b.as_u64().expect("u64") - a.as_u64().expect("u64");
        h[&tensors[2].0]["data_offsets"] = serde_json::json!([a, a.as_u64().expect("u64") + len]);
        h[&tensors[2].0]["shape"] = serde_json::json!([len / 4]);
    });
    let e = file_error(&overlap);
    assert!(
        matches!(&e, FileError::BadOffsets { why, .. } if why.contains("overlaps")),
        "{e}"
    );
    let past_end = with_header(&good, |h| {
        h[&first]["data_offsets"] = serde_json::json!([0, 1u64 << 40])
    });
    assert!(
        matches!(file_error(&past_end), FileError::BadOffsets { why, .. } if why.contains("past the end"))
    );
    let dtype = with_header(&good, |h| h[&first]["dtype"] = "I64".into());
    assert!(
        matches!(file_error(&dtype), FileError::UnsupportedDtype { dtype, .. } if dtype == "I64")
    );
    let zero_dim = with_header(&good, |h| h[&first]["shape"] = serde_json::json!([0, 4]));
    assert!(matches!(file_error(&zero_dim), FileError::BadShape { .. }));
    let enormous = with_header(&good, |h| {
        h[&first]["shape"] = serde_json::json!([1u64 << 40, 1u64 << 40])
    });
    assert!(matches!(file_error(&enormous), FileError::BadShape { .. }));
    let shape_vs_bytes = with_header(&good, |h| h[&first]["shape"] = serde_json::json!([3]));
    assert!(
        matches!(file_error(&shape_vs_bytes), FileError::BadOffsets { why, .. } if why.contains("needs"))
    );

    let no_meta = with_header(&good, |h| {
        h.as_object_mut().expect("object").remove("__metadata__");
    });
    assert_eq!(file_error(&no_meta), FileError::MissingMetadata);
    let not_json = with_header(&good, |h| h["__metadata__"]["ganscope"] = "{nope".into());
    assert!(matches!(file_error(&not_json), FileError::BadMetadata(_)));
    let version = meta_edit(&good, |m| m["format_version"] = 99.into());
    assert_eq!(
        file_error(&version),
        FileError::UnsupportedVersion {
            found: 99,
            supported: 2
        }
    );
    let bad_arch = meta_edit(&good, |m| m["generator"]["image_size"] = 31.into());
    assert!(
        matches!(file_error(&bad_arch), FileError::BadMetadata(s) if s.contains("image size 31"))
    );
    let sites = meta_edit(&good, |m| m["sites"][0]["shape"][0] = 7.into());
    assert!(matches!(file_error(&sites), FileError::BadMetadata(s) if s.contains("sites")));
    let more_blocks = meta_edit(&good, |m| m["generator"]["buckets"][0]["blocks"] = 4.into());
    assert!(
        matches!(file_error(&more_blocks), FileError::MissingTensor(t) if t.starts_with("g.bucket1.block3"))
    );
    let wider = meta_edit(&good, |m| {
        m["generator"]["widths"][0] = 5.into();
        m["sites"][0]["shape"][0] = 5.into();
    });
    assert!(matches!(
        file_error(&wider),
        FileError::ShapeMismatch { .. }
    ));
    let fewer_blocks = meta_edit(&good, |m| m["generator"]["buckets"][3]["blocks"] = 2.into());
    assert!(
        matches!(file_error(&fewer_blocks), FileError::UnexpectedTensor(t) if t.starts_with("g.bucket4.block2"))
    );

    let (meta, mut ts, _) = model_bytes(None);
    ts[3].2[1] = f32::NAN;
    let nan = to_bytes(&meta, &ts, false).expect("serialise");
    assert_eq!(file_error(&nan), FileError::NonFinite(ts[3].0.clone()));
    // read from the bits: infinities and NaNs of either sign, stored as f32 or f16
    for bad in [f32::INFINITY, f32::NEG_INFINITY, -f32::NAN, 1e6] {
        ts[3].2[1] = bad;
        assert!(matches!(
            file_error(&to_bytes(&meta, &ts, true).expect("f16")),
            FileError::NonFinite(_)
        ));
        if bad.is_finite() {
            continue; // 1e6 overflows f16 only
        }
        assert!(matches!(
            file_error(&to_bytes(&meta, &ts, false).expect("f32")),
            FileError::NonFinite(_)
        ));
    }
    ts[3].2[1] = 65504.0; // the largest f16
    ModelFile::parse(&to_bytes(&meta, &ts, true).expect("f16")).expect("finite");
}

#[test]
fn a_version_1_file_still_loads() {
    let (_, _, good) = model_bytes(None);
    let v1 = meta_edit(&good, |m| m["format_version"] = 1.into());
    let f = ModelFile::parse(&v1).expect("a version-1 file loads");
    assert_eq!(f.meta.format_version, 2, "read as the current version");
    assert_eq!(f.meta.source, None);
    assert_eq!(f.meta.generator.program, None);
}

#[test]
fn errors_read_like_sentences() {
    let (_, _, good) = model_bytes(None);
    let msg = ModelFile::parse(&good[..3]).expect_err("short").to_string();
    assert!(msg.contains("3 bytes long"), "{msg}");
    let msg = ModelFile::parse(&meta_edit(&good, |m| m["format_version"] = 3.into()))
        .expect_err("v3")
        .to_string();
    assert!(msg.contains("format version 3 is not supported"), "{msg}");
}

#[test]
fn duplicate_names_gaps_and_giant_metadata_are_refused() {
    let (_, _, good) = model_bytes(None);
    let n = u64::from_le_bytes(good[..8].try_into().expect("8 bytes")) as usize;
    let header = std::str::from_utf8(&good[8..8 + n])
        .expect("utf-8")
        .to_string();
    let body = &good[8 + n..];
    let rebuild = |h: &str| {
        let mut v = (h.len() as u64).to_le_bytes().to_vec();
        v.extend_from_slice(h.as_bytes());
        v.extend_from_slice(body);
        v
    };
    // the same tensor name twice (JSON allows it; the file must not)
    let first = header.find("\"g.").expect("a tensor");
    let end = header[first..].find("},").expect("entry end") + first + 2;
    let entry = &header[first..end];
    let dup = header.replacen(entry, &format!("{entry}{entry}"), 1);
    assert!(
        ModelFile::parse(&rebuild(&dup)).is_err(),
        "duplicate tensor names"
    );
    // a gap: the data section has bytes no tensor covers
    let mut gap = good.clone();
    gap.extend_from_slice(&[0u8; 64]);
    assert!(
        matches!(ModelFile::parse(&gap), Err(Error::InvalidFile(_))),
        "trailing bytes no tensor covers"
    );
    // 1 GB of metadata is refused from the header length alone, before any allocation
    let mut giant = (1u64 << 30).to_le_bytes().to_vec();
    giant.extend_from_slice(b"{\"__metadata__\":{\"ganscope\":\"");
    assert!(matches!(
        file_error(&giant),
        FileError::HeaderTooLarge(_) | FileError::HeaderPastEnd { .. }
    ));
    const { assert!(MAX_HEADER < 1 << 30) };
}
