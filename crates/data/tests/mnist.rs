//! MNIST: real IDX files, padding, colored MNIST, raw files, hostile input.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use flate2::write::GzEncoder;
use flate2::Compression;
use ganscope_data::{load, DataError, Dataset, LoadOptions, Source, Split};
use rand::{Rng, SeedableRng};

fn opts(size: usize, channels: usize, split: Split, limit: Option<usize>) -> LoadOptions {
    LoadOptions {
        size,
        channels,
        colored: false,
        split,
        limit,
        seed: 0,
    }
}

fn mnist(dir: &Path, o: &LoadOptions) -> ganscope_data::Result<Dataset> {
    load(&Source::Mnist(dir.to_path_buf()), o)
}

#[test]
fn real_mnist_train_and_test() {
    let Some(dir) = common::shared_data("mnist") else {
        return;
    };
    let start = Instant::now();
    let train = mnist(&dir, &opts(28, 1, Split::Train, None)).expect("load MNIST train");
    eprintln!(
        "MNIST train (60,000 images) loaded in {:?}",
        start.elapsed()
    );
    assert_eq!(train.name, "mnist");
    assert_eq!(train.len(), 60_000);
    assert_eq!((train.size, train.channels), (28, 1));
    assert_eq!(train.pixels.len(), 60_000 * 28 * 28);
    assert_eq!(
        train.classes,
        (0..10).map(|c| c.to_string()).collect::<Vec<_>>()
    );
    assert_eq!(train.labels[0], 5, "the first MNIST train label is 5");
    let mut hist = [0usize; 10];
    for &l in &train.labels {
        hist[l as usize] += 1;
    }
    for (c, &n) in hist.iter().enumerate() {
        assert!((5_000..=7_000).contains(&n), "class {c} has {n} images");
    }

    let start = Instant::now();
    let test = mnist(&dir, &opts(28, 1, Split::Test, None)).expect("load MNIST test");
    eprintln!("MNIST test (10,000 images) loaded in {:?}", start.elapsed());
    assert_eq!(test.len(), 10_000);
    assert_eq!(test.labels[0], 7, "the first MNIST test label is 7");
    assert!(test.labels.iter().all(|&l| l < 10));
}

#[test]
fn size_32_pads_exactly_and_channels_3_replicates() {
    let Some(dir) = common::shared_data("mnist") else {
        return;
    };
    let small = mnist(&dir, &opts(28, 1, Split::Test, Some(50))).expect("load 28");
    let big = mnist(&dir, &opts(32, 1, Split::Test, Some(50))).expect("load 32");
    assert_eq!((small.len(), big.len()), (50, 50));
    assert_eq!(big.pixels.len(), 50 * 32 * 32);
    assert_eq!(small.labels, big.labels);
    for i in 0..50 {
        let a = &small.pixels[i * 784..(i + 1) * 784];
        let b = &big.pixels[i * 1024..(i + 1) * 1024];
        for y in 0..32 {
            for x in 0..32 {
                let v = b[y * 32 + x];
                if (2..30).contains(&y) && (2..30).contains(&x) {
                    assert_eq!(v, a[(y - 2) * 28 + (x - 2)], "image {i} at ({y}, {x})");
                } else {
                    assert_eq!(v, 0, "border of image {i} at ({y}, {x})");
                }
            }
        }
    }
    let rgb = mnist(&dir, &opts(32, 3, Split::Test, Some(50))).expect("load 32 RGB");
    assert_eq!(rgb.channels, 3);
    for i in 0..50 {
        for c in 0..3 {
            let plane = &rgb.pixels[(i * 3 + c) * 1024..(i * 3 + c + 1) * 1024];
            assert_eq!(plane, &big.pixels[i * 1024..(i + 1) * 1024]);
        }
    }
    // Other sizes: the same pixels as image's triangle-filter resize.
    let resized = mnist(&dir, &opts(64, 1, Split::Test, Some(5))).expect("load 64");
    assert_eq!(resized.pixels.len(), 5 * 64 * 64);
    for i in 0..5 {
        let raw = small.pixels[i * 784..(i + 1) * 784].to_vec();
        let img = image::GrayImage::from_raw(28, 28, raw).expect("28x28");
        let want = image::imageops::resize(&img, 64, 64, image::imageops::FilterType::Triangle);
        assert_eq!(
            &resized.pixels[i * 4096..(i + 1) * 4096],
            want.as_raw().as_slice()
        );
    }
}

/// The colour draw the spec prescribes, repeated here to check the loader.
fn expected_colours(seed: u64, n: usize) -> Vec<[f32; 3]> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    (0..n)
        .map(|_| loop {
            let c: [f32; 3] = [rng.random(), rng.random(), rng.random()];
            if c.iter().copied().fold(0.0, f32::max) >= 0.5 {
                break c;
            }
        })
        .collect()
}

#[test]
fn colored_mnist() {
    let Some(dir) = common::shared_data("mnist") else {
        return;
    };
    let colored = |seed, channels| LoadOptions {
        colored: true,
        seed,
        ..opts(28, channels, Split::Test, Some(100))
    };
    let grey = mnist(&dir, &opts(28, 1, Split::Test, Some(100))).expect("grey");
    let a = mnist(&dir, &colored(7, 1)).expect("seed 7");
    let b = mnist(&dir, &colored(7, 3)).expect("seed 7 again");
    let c = mnist(&dir, &colored(8, 3)).expect("seed 8");
    assert_eq!(a.name, "colored-mnist");
    assert_eq!((a.channels, a.size, a.len()), (3, 28, 100));
    assert_eq!(a.pixels.len(), 100 * 3 * 784);
    assert_eq!(a.pixels, b.pixels, "same seed, same pixels");
    assert_ne!(a.pixels, c.pixels, "different seed, different pixels");
    assert_eq!(a.labels, grey.labels);

    let colours = expected_colours(7, 100);
    for (i, colour) in colours.iter().enumerate() {
        let g = &grey.pixels[i * 784..(i + 1) * 784];
        let rgb = &a.pixels[i * 3 * 784..(i + 1) * 3 * 784];
        for p in 0..784 {
            for k in 0..3 {
                let v = rgb[k * 784 + p];
                if g[p] == 0 {
                    assert_eq!(v, 0, "background of image {i} must stay black");
                }
                let want = (f32::from(g[p]) * colour[k]).round() as u8;
                assert_eq!(v, want, "image {i} pixel {p} channel {k}");
            }
        }
        // The brightest stroke pixel's channel ratios are the colour's.
        let p = (0..784).max_by_key(|&p| g[p]).expect("non-empty");
        assert!(g[p] >= 250, "MNIST strokes reach 250+");
        let max_c = colour.iter().copied().fold(0.0, f32::max);
        let max_v = (0..3).map(|k| rgb[k * 784 + p]).max().expect("3 channels");
        assert!(
            f32::from(max_v) >= 0.5 * 250.0 - 1.0,
            "stroke stays visible"
        );
        for k in 0..3 {
            let ratio = f32::from(rgb[k * 784 + p]) / f32::from(max_v);
            assert!(
                (ratio - colour[k] / max_c).abs() < 0.01,
                "image {i} channel {k}"
            );
        }
    }
}

/// Writes IDX bytes for `n` images of `rows` x `cols` and their labels.
fn idx_images(n: usize, rows: usize, cols: usize, pixels: &[u8]) -> Vec<u8> {
    let mut out = vec![0, 0, 8, 3];
    for d in [n, rows, cols] {
        out.extend_from_slice(&(d as u32).to_be_bytes());
    }
    out.extend_from_slice(pixels);
    out
}

fn idx_labels(labels: &[u8]) -> Vec<u8> {
    let mut out = vec![0, 0, 8, 1];
    out.extend_from_slice(&(labels.len() as u32).to_be_bytes());
    out.extend_from_slice(labels);
    out
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::new(), Compression::default());
    enc.write_all(bytes).expect("gzip");
    enc.finish().expect("gzip")
}

fn gunzip_file(src: &Path) -> Vec<u8> {
    let mut out = Vec::new();
    let file = std::fs::File::open(src).expect("open");
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(file), &mut out).expect("gunzip");
    out
}

#[test]
fn raw_idx_files_load_like_gzipped_ones() {
    let Some(dir) = common::shared_data("mnist") else {
        return;
    };
    let tmp = tempfile::tempdir().expect("tempdir");
    for name in ["t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"] {
        let raw = gunzip_file(&dir.join(format!("{name}.gz")));
        std::fs::write(tmp.path().join(name), raw).expect("write");
    }
    let from_raw = mnist(tmp.path(), &opts(28, 1, Split::Test, None)).expect("raw");
    let from_gz = mnist(&dir, &opts(28, 1, Split::Test, None)).expect("gz");
    assert_eq!(from_raw.len(), 10_000);
    assert_eq!(from_raw.pixels, from_gz.pixels);
    assert_eq!(from_raw.labels, from_gz.labels);
    // The train split is absent from the tempdir.
    let err = mnist(tmp.path(), &opts(28, 1, Split::Train, None)).expect_err("no train");
    assert!(matches!(err, DataError::MnistFileMissing { .. }), "{err}");
}

/// A tempdir holding a small synthetic MNIST-like train split.
struct Fake {
    dir: tempfile::TempDir,
}

impl Fake {
    fn new(images: &[u8], labels: &[u8]) -> Fake {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("train-images-idx3-ubyte.gz"), images).expect("write");
        std::fs::write(dir.path().join("train-labels-idx1-ubyte.gz"), labels).expect("write");
        Fake { dir }
    }

    fn good_parts() -> (Vec<u8>, Vec<u8>) {
        let pixels: Vec<u8> = (0..3 * 28 * 28).map(|i| (i % 256) as u8).collect();
        (idx_images(3, 28, 28, &pixels), idx_labels(&[1, 2, 3]))
    }

    fn load(&self) -> DataError {
        mnist(self.dir.path(), &opts(28, 1, Split::Train, None)).expect_err("must fail")
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

const IMAGES: &str = "train-images-idx3-ubyte.gz";
const LABELS: &str = "train-labels-idx1-ubyte.gz";

#[test]
fn synthetic_idx_loads_and_limit_applies() {
    let (images, labels) = Fake::good_parts();
    let fake = Fake::new(&gzip(&images), &gzip(&labels));
    let o = opts(28, 1, Split::Train, Some(2));
    let data = mnist(fake.dir.path(), &o).expect("synthetic MNIST");
    assert_eq!(data.labels, vec![1, 2]);
    assert_eq!(data.pixels, images[16..16 + 2 * 784]);
}

#[test]
fn hostile_idx_files() {
    let (images, labels) = Fake::good_parts();

    // Wrong magic: a labels file where the images file should be.
    let err = Fake::new(&gzip(&labels), &gzip(&labels)).load();
    assert!(
        matches!(
            err,
            DataError::BadMagic {
                found: 0x801,
                expected: 0x803,
                ..
            }
        ),
        "{err}"
    );
    let msg = err.to_string();
    assert!(
        msg.contains(IMAGES) && msg.contains("0x00000801") && msg.contains("0x00000803"),
        "{msg}"
    );

    // Truncated pixel data, gzipped and raw.
    let short = &images[..images.len() - 10];
    let err = Fake::new(&gzip(short), &gzip(&labels)).load();
    assert!(matches!(err, DataError::Truncated { .. }), "{err}");
    assert!(err.to_string().contains(IMAGES), "{err}");
    let fake = Fake::new(&gzip(&images), &gzip(&labels));
    std::fs::remove_file(fake.path(IMAGES)).expect("rm");
    std::fs::write(fake.path("train-images-idx3-ubyte"), short).expect("write");
    let err = fake.load();
    assert!(matches!(err, DataError::Truncated { .. }), "{err}");
    assert!(err.to_string().contains("train-images-idx3-ubyte"), "{err}");

    // An empty file, and extra bytes after the data.
    let err = Fake::new(&gzip(&[]), &gzip(&labels)).load();
    assert!(matches!(err, DataError::Truncated { .. }), "{err}");
    let mut long = images.clone();
    long.push(0);
    let err = Fake::new(&gzip(&long), &gzip(&labels)).load();
    assert!(matches!(err, DataError::TrailingBytes { .. }), "{err}");

    // Count mismatch between labels and images.
    let err = Fake::new(&gzip(&images), &gzip(&idx_labels(&[1, 2]))).load();
    assert!(
        matches!(
            err,
            DataError::CountMismatch {
                n_images: 3,
                n_labels: 2,
                ..
            }
        ),
        "{err}"
    );
    assert!(
        err.to_string().contains(LABELS) && err.to_string().contains(IMAGES),
        "{err}"
    );

    // Label out of range.
    let err = Fake::new(&gzip(&images), &gzip(&idx_labels(&[1, 10, 3]))).load();
    assert!(
        matches!(
            err,
            DataError::BadLabel {
                index: 1,
                value: 10,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains(LABELS), "{err}");

    // Impossible headers: too many items, zero rows.
    let err = Fake::new(&gzip(&idx_images(20_000_000, 28, 28, &[])), &gzip(&labels)).load();
    assert!(matches!(err, DataError::BadHeader { .. }), "{err}");
    assert!(err.to_string().contains(IMAGES), "{err}");
    let err = Fake::new(&gzip(&idx_images(3, 0, 28, &[])), &gzip(&labels)).load();
    assert!(matches!(err, DataError::BadHeader { .. }), "{err}");

    // Corrupt gzip: damaged stream, cut stream, not gzip at all.
    let mut damaged = gzip(&images);
    let mid = damaged.len() / 2;
    for b in &mut damaged[mid..mid + 8] {
        *b ^= 0x5a;
    }
    let cut = gzip(&images)[..mid].to_vec();
    let junk: Vec<u8> = (0..500u32).map(|i| (i * 7919 % 251) as u8 | 0x80).collect();
    for bad in [damaged, cut, junk] {
        let err = Fake::new(&bad, &gzip(&labels)).load();
        assert!(matches!(err, DataError::CorruptGzip { .. }), "{err}");
        assert!(err.to_string().contains(IMAGES), "{err}");
    }

    // Missing files and folder.
    let fake = Fake::new(&gzip(&images), &gzip(&labels));
    std::fs::remove_file(fake.path(LABELS)).expect("rm");
    let err = fake.load();
    assert!(matches!(err, DataError::MnistFileMissing { .. }), "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains(LABELS) && msg.contains("or train-labels-idx1-ubyte"),
        "{msg}"
    );
    let gone = fake.path("nowhere");
    let err = mnist(&gone, &opts(28, 1, Split::Train, None)).expect_err("missing dir");
    assert!(matches!(err, DataError::NotFound { .. }), "{err}");
    assert!(err.to_string().contains("nowhere"), "{err}");
}

#[test]
fn decompressed_file_keeping_gz_name_still_loads() {
    let (images, labels) = Fake::good_parts();
    let fake = Fake::new(&images, &labels);
    let data = mnist(fake.dir.path(), &opts(32, 1, Split::Train, None)).expect("raw .gz");
    assert_eq!(data.len(), 3);
}
