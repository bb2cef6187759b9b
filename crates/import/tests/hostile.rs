//! Bad and hostile checkpoints get a clear error, never a panic, a run of code or an
//! allocation larger than the file: code references (`os.system`), a 2^32 length field, a
//! memo bomb, deep nesting, a tensor whose storage is shorter than its shape, and the
//! ordinary mistakes (no tensors, a missing key, an unknown layout, a shape that does not fit).

use std::io::{Read, Write};
use std::path::Path;

use ganscope_import::{import, ImportError, Options};

fn fixture(rel: &str) -> Vec<u8> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/import")
        .join(rel);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn err(bytes: &[u8], o: &Options) -> String {
    match import(bytes, "bad.pt", o) {
        Ok(_) => panic!("a bad checkpoint was imported"),
        Err(e) => e.to_string(),
    }
}

fn auto(bytes: &[u8]) -> String {
    err(bytes, &Options::default())
}

/// A protocol-2 pickle of `body` (ops after PROTO, before STOP).
fn pickle(body: &[u8]) -> Vec<u8> {
    [&b"\x80\x02"[..], body, b"."].concat()
}

#[test]
fn a_code_reference_is_not_run() {
    let marker = std::env::temp_dir().join("ganscope-hostile-marker");
    let _ = std::fs::remove_file(&marker);
    let cmd = format!("touch {}", marker.display());
    let mut body = b"cos\nsystem\nX".to_vec();
    body.extend((cmd.len() as u32).to_le_bytes());
    body.extend(cmd.as_bytes());
    body.extend(b"\x85R"); // TUPLE1, REDUCE: os.system(cmd) for a real unpickler
    let msg = auto(&pickle(&body));
    assert!(!marker.exists(), "the pickle ran a command");
    assert!(
        msg.contains("cannot read the checkpoint") && msg.contains("os.system"),
        "{msg}"
    );
    // the same call inside a state dict
    let mut d = b"}X\x01\x00\x00\x00a".to_vec();
    d.extend(&body);
    d.push(b's');
    let msg = auto(&pickle(&d));
    assert!(!marker.exists(), "the pickle ran a command");
    assert!(
        msg.contains("no floating-point tensors") || msg.contains("cannot read"),
        "{msg}"
    );
}

#[test]
fn a_huge_length_field_is_refused_without_allocating_it() {
    let msg = auto(&pickle(b"X\xff\xff\xff\xffabc"));
    assert!(msg.contains("expected 4294967295 bytes, found 4"), "{msg}");
    let msg = auto(&pickle(b"B\xff\xff\xff\x7fabc")); // BINBYTES of 2^31 - 1
    assert!(msg.contains("cannot read the checkpoint"), "{msg}");
}

#[test]
fn a_memo_bomb_and_deep_nesting_are_refused() {
    // l0 = [], then l(k+1) = [lk, lk] 64 times over: 2^64 nodes if copied out
    let mut b = b"]q\x00".to_vec();
    for _ in 0..64 {
        b.extend(b"(h\x00h\x00lq\x00");
    }
    let mut d = b"}X\x01\x00\x00\x00a".to_vec();
    d.extend(&b);
    d.push(b's');
    let msg = auto(&pickle(&d));
    assert!(msg.contains("memo bomb"), "{msg}");
    // 100,000 nested lists
    let mut n = b"}X\x01\x00\x00\x00a".to_vec();
    n.extend(std::iter::repeat_n(b']', 100_000));
    n.extend(std::iter::repeat_n(b'a', 99_999));
    n.push(b's');
    let msg = auto(&pickle(&n));
    assert!(msg.contains("nesting exceeds"), "{msg}");
}

/// The fixture checkpoint with one storage entry cut to `keep` bytes.
fn truncated_storage(keep: usize) -> Vec<u8> {
    let src = fixture("pytorch-dcgan/checkpoint.tar");
    let mut zin = zip::ZipArchive::new(std::io::Cursor::new(src)).expect("zip");
    let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    let mut cut = false;
    for i in 0..zin.len() {
        let mut f = zin.by_index(i).expect("entry");
        let name = f.name().expect("name").to_string();
        let mut data = Vec::new();
        f.read_to_end(&mut data).expect("read");
        if !cut && name.contains("/data/") && data.len() > keep {
            data.truncate(keep);
            cut = true;
        }
        out.start_file(name, opts).expect("start");
        out.write_all(&data).expect("write");
    }
    assert!(cut, "no storage to cut");
    out.finish().expect("finish").into_inner()
}

#[test]
fn a_storage_shorter_than_its_shape_is_refused() {
    let msg = auto(&truncated_storage(8));
    assert!(
        msg.contains("storage") || msg.contains("cannot read"),
        "{msg}"
    );
}

fn safetensors(tensors: &[(&str, Vec<usize>)]) -> Vec<u8> {
    let data: Vec<(String, Vec<u8>, Vec<usize>)> = tensors
        .iter()
        .map(|(n, s)| {
            let len: usize = s.iter().product();
            let bytes = (0..len)
                .flat_map(|i| (i as f32 * 0.01).to_le_bytes())
                .collect();
            (n.to_string(), bytes, s.clone())
        })
        .collect();
    let views: Vec<(String, safetensors::tensor::TensorView<'_>)> = data
        .iter()
        .map(|(n, b, s)| {
            let v = safetensors::tensor::TensorView::new(safetensors::Dtype::F32, s.clone(), b)
                .expect("view");
            (n.clone(), v)
        })
        .collect();
    safetensors::serialize(views, None).expect("serialize")
}

#[test]
fn ordinary_mistakes_name_the_problem() {
    let msg = auto(&pickle(b"}"));
    assert!(msg.contains("holds no floating-point tensors"), "{msg}");
    let ck = fixture("pytorch-dcgan/checkpoint.tar");
    let msg = err(
        &ck,
        &Options {
            key: Some("netD_state_dict".into()),
            ..Options::default()
        },
    );
    assert!(
        msg.contains("no state dict under `netD_state_dict`") && msg.contains("netG_state_dict"),
        "{msg}"
    );
    let unknown = safetensors(&[("fc.weight", vec![4, 3]), ("fc.bias", vec![4])]);
    let msg = auto(&unknown);
    assert!(
        msg.contains("no known layout")
            && msg.contains("fc.weight")
            && msg.contains("pytorch-dcgan"),
        "{msg}"
    );
    let o = Options {
        layout: Some("stylegan9".into()),
        ..Options::default()
    };
    let msg = err(&ck, &o);
    assert!(msg.contains("unknown layout `stylegan9`"), "{msg}");
    let bn = |i: usize, c: usize| {
        ["weight", "bias", "running_mean", "running_var"]
            .map(|p| (format!("main.{i}.{p}"), vec![c]))
    };
    let mut wrong: Vec<(String, Vec<usize>)> = vec![("main.0.weight".into(), vec![8, 16, 4, 4])];
    wrong.extend(bn(1, 12));
    wrong.push(("main.3.weight".into(), vec![16, 3, 4, 4]));
    let refs: Vec<(&str, Vec<usize>)> =
        wrong.iter().map(|(n, s)| (n.as_str(), s.clone())).collect();
    let o = Options {
        layout: Some("pytorch-dcgan".into()),
        ..Options::default()
    };
    let msg = err(&safetensors(&refs), &o);
    assert!(msg.contains("main.1") && msg.contains("channel"), "{msg}");
    let o = Options {
        set: vec!["ngf=3".into()],
        ..Options::default()
    };
    let msg = err(&ck, &o);
    assert!(
        msg.contains("ngf") && msg.contains("no such setting"),
        "{msg}"
    );
}

#[test]
fn a_ganscope_model_is_not_imported_again() {
    let m = import(
        &fixture("pytorch-dcgan/checkpoint.tar"),
        "c.tar",
        &Options::default(),
    )
    .expect("import");
    let bytes = ganscope_import::to_bytes(&m, false).expect("bytes");
    assert!(matches!(
        import(&bytes, "m.safetensors", &Options::default()),
        Err(ImportError::AlreadyGanscope)
    ));
}

/// The page asks `is_checkpoint` before loading a model, with only the first bytes
/// `checkpoint_prefix_len` names: the answer from them is the whole file's.
#[test]
fn a_checkpoint_is_told_from_its_first_bytes() {
    use ganscope_import::{checkpoint_prefix_len, is_checkpoint};
    let tar = fixture("pytorch-dcgan/checkpoint.tar");
    let model = ganscope_import::to_bytes(
        &import(&tar, "c.tar", &Options::default()).expect("import"),
        false,
    )
    .expect("bytes");
    let dict = safetensors(&[("main.0.weight", vec![100, 64, 4, 4])]);
    let classifier = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../www/models/classifier-colored-mnist.safetensors"),
    )
    .expect("classifier");
    for (what, bytes, want) in [
        ("a torch.save tar", &tar, true),
        ("a state dict", &dict, true),
        ("a ganscope model", &model, false),
        ("a ganscope classifier", &classifier, false),
    ] {
        let n = checkpoint_prefix_len(&bytes[..262]);
        assert!(n < bytes.len() / 2, "{what}: {n} of {} bytes", bytes.len());
        assert_eq!(is_checkpoint(bytes), want, "{what}");
        assert_eq!(is_checkpoint(&bytes[..n]), want, "{what}, first {n} bytes");
    }
    // a safetensors header declaring more than the largest header is not one
    let mut huge = dict.clone();
    huge[..8].copy_from_slice(&(u64::MAX).to_le_bytes());
    assert_eq!(checkpoint_prefix_len(&huge[..262]), 262);
    assert!(!is_checkpoint(&huge));
}

#[test]
fn every_saved_fuzz_input_runs_without_a_panic() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/checkpoint");
    let mut n = 0;
    for f in std::fs::read_dir(&dir).expect("corpus").flatten() {
        ganscope_import::fuzz_checkpoint(&std::fs::read(f.path()).expect("read"));
        n += 1;
    }
    assert!(n >= 5, "{n} inputs in {}", dir.display());
}

#[test]
fn a_forced_layout_reads_a_bare_rpgan_state_dict() {
    // the RPGAN authors' keys start with `model.`, like a nested `model` state dict
    let bytes = fixture("rpgan-resnet/generator_100.pt");
    let o = Options {
        layout: Some("rpgan-resnet".into()),
        ..Options::default()
    };
    let m = import(&bytes, "generator_100.pt", &o).expect("forced layout");
    assert_eq!(m.meta.generator.blocks(), vec![3, 2, 2, 2, 3]);
    let o = Options {
        set: vec!["channels=3".into()],
        ..Options::default()
    };
    let msg = err(&fixture("rpgan-fc/generator_500.pt"), &o);
    assert!(msg.contains("not a square 3-channel image"), "{msg}");
}
