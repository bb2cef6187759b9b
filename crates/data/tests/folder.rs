//! Image folders and CIFAR-10 JPEG folders.

mod common;

use std::path::Path;
use std::process::Command;

use ganscope_data::{load, DataError, LoadOptions, Source, Split};
use image::{ImageFormat, Rgb, RgbImage};

fn opts(size: usize, channels: usize, split: Split) -> LoadOptions {
    LoadOptions {
        size,
        channels,
        colored: false,
        split,
        limit: None,
        seed: 0,
    }
}

fn folder(dir: &Path, o: &LoadOptions) -> ganscope_data::Result<ganscope_data::Dataset> {
    load(&Source::Folder(dir.to_path_buf()), o)
}

/// Saves a `w` x `h` gradient image in `format`.
fn save(path: &Path, w: u32, h: u32, format: ImageFormat) {
    let img = RgbImage::from_fn(w, h, |x, y| Rgb([(x * 5) as u8, (y * 5) as u8, 128]));
    img.save_with_format(path, format).expect("save image");
}

/// `a_cats/` with 2 JPEGs and `b_dogs/` with 3 PNGs, plus files to ignore.
fn make_folder(root: &Path) {
    let cats = root.join("a_cats");
    let dogs = root.join("b_dogs");
    std::fs::create_dir_all(&cats).expect("mkdir");
    std::fs::create_dir_all(&dogs).expect("mkdir");
    save(&cats.join("1.jpg"), 64, 48, ImageFormat::Jpeg);
    save(&cats.join("2.JPEG"), 20, 30, ImageFormat::Jpeg);
    save(&dogs.join("a.png"), 32, 32, ImageFormat::Png);
    save(&dogs.join("b.PNG"), 40, 40, ImageFormat::Png);
    save(&dogs.join("c.png"), 100, 17, ImageFormat::Png);
    // Ignored: other extensions, hidden files, hidden folders.
    std::fs::write(dogs.join("notes.txt"), b"not an image").expect("write");
    std::fs::write(dogs.join(".hidden.png"), b"garbage").expect("write");
    std::fs::create_dir_all(root.join(".cache")).expect("mkdir");
    std::fs::write(root.join(".cache/x.png"), b"garbage").expect("write");
}

#[test]
fn image_folder_loads_sorted_classes() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path().join("pets");
    make_folder(&root);
    let data = folder(&root, &opts(32, 3, Split::Train)).expect("load folder");
    assert_eq!(data.name, "folder:pets");
    assert_eq!(data.classes, vec!["a_cats", "b_dogs"]);
    assert_eq!(data.labels, vec![0, 0, 1, 1, 1]);
    assert_eq!((data.size, data.channels), (32, 3));
    assert_eq!(data.pixels.len(), 5 * 3 * 32 * 32);
    // b_dogs/a.png is 32x32 PNG: loaded exactly, planar RGB.
    let img = &data.pixels[2 * 3072..3 * 3072];
    for (y, x) in [(0, 0), (5, 17), (31, 31)] {
        let want = [(x * 5) as u8, (y * 5) as u8, 128];
        for (c, &w) in want.iter().enumerate() {
            assert_eq!(
                img[c * 1024 + y * 32 + x],
                w,
                "pixel ({y}, {x}) channel {c}"
            );
        }
    }
    let grey = folder(&root, &opts(64, 1, Split::Train)).expect("load folder grey");
    assert_eq!(grey.pixels.len(), 5 * 64 * 64);

    let limited = folder(
        &root,
        &LoadOptions {
            limit: Some(3),
            ..opts(28, 3, Split::Train)
        },
    )
    .expect("limit");
    assert_eq!(limited.labels, vec![0, 0, 1]);
    assert_eq!(limited.pixels.len(), 3 * 3 * 28 * 28);
}

#[test]
fn non_square_images_are_centre_cropped() {
    let tmp = tempfile::tempdir().expect("tempdir");
    // 64 x 32: red | green (the centre 32 columns) | blue.
    let img = RgbImage::from_fn(64, 32, |x, _| match x {
        0..16 => Rgb([255, 0, 0]),
        16..48 => Rgb([0, 255, 0]),
        _ => Rgb([0, 0, 255]),
    });
    img.save(tmp.path().join("wide.png")).expect("save");
    // And the same standing up: 32 x 64.
    let tall = RgbImage::from_fn(32, 64, |x, y| *img.get_pixel(y, x));
    tall.save(tmp.path().join("xtall.png")).expect("save");

    for size in [32, 16] {
        let data = folder(tmp.path(), &opts(size, 3, Split::Train)).expect("load");
        assert_eq!(data.classes.len(), 1, "images directly in DIR: one class");
        assert_eq!(data.labels, vec![0, 0]);
        let plane = size * size;
        for i in 0..2 {
            let img = &data.pixels[i * 3 * plane..(i + 1) * 3 * plane];
            assert!(
                img[..plane].iter().all(|&v| v == 0),
                "no red at size {size}"
            );
            assert!(img[plane..2 * plane].iter().all(|&v| v == 255), "all green");
            assert!(
                img[2 * plane..].iter().all(|&v| v == 0),
                "no blue at size {size}"
            );
        }
    }
    let luma = folder(tmp.path(), &opts(32, 1, Split::Train)).expect("luma");
    let v = luma.pixels[0];
    assert!(
        (170..=190).contains(&v),
        "luma of pure green is about 182, got {v}"
    );
    assert!(luma.pixels.iter().all(|&p| p == v));
}

#[test]
fn folder_errors() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path().join("pets");
    make_folder(&root);
    let bad = root.join("b_dogs/broken.png");
    let noise: Vec<u8> = (0..300u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(&bad, noise).expect("write");
    let err = folder(&root, &opts(32, 3, Split::Train)).expect_err("corrupt png");
    assert!(matches!(err, DataError::CorruptImage { .. }), "{err}");
    assert!(err.to_string().contains("broken.png"), "{err}");

    let empty = tmp.path().join("empty");
    std::fs::create_dir_all(empty.join("class_a")).expect("mkdir");
    std::fs::write(empty.join("class_a/readme.txt"), b"x").expect("write");
    let err = folder(&empty, &opts(32, 3, Split::Train)).expect_err("empty");
    assert!(matches!(err, DataError::NoImages { .. }), "{err}");
    assert!(err.to_string().contains("empty"), "{err}");

    let missing = tmp.path().join("absent");
    let err = folder(&missing, &opts(32, 3, Split::Train)).expect_err("missing");
    assert!(matches!(err, DataError::NotFound { .. }), "{err}");
    assert!(err.to_string().contains("absent"), "{err}");

    let colored = LoadOptions {
        colored: true,
        ..opts(32, 3, Split::Train)
    };
    let err = folder(&root, &colored).expect_err("colored folder");
    assert!(matches!(err, DataError::Unsupported { .. }), "{err}");
    let err = folder(&root, &opts(32, 2, Split::Train)).expect_err("2 channels");
    assert!(matches!(err, DataError::Unsupported { .. }), "{err}");
    let err = folder(&root, &opts(0, 3, Split::Train)).expect_err("size 0");
    assert!(matches!(err, DataError::Unsupported { .. }), "{err}");
}

#[test]
fn cifar10_subset_from_real_archive() {
    let Some(data_dir) = common::shared_data("cifar10") else {
        return;
    };
    let archive = data_dir.join("cifar10-jpg.tar.gz");
    let tmp = tempfile::tempdir().expect("tempdir");
    let status = Command::new("tar")
        .arg("-xzf")
        .arg(&archive)
        .arg("-C")
        .arg(tmp.path())
        .args(["--wildcards", "test/airplane/000*", "test/cat/000*"])
        .status()
        .expect("run tar");
    assert!(status.success(), "tar failed on {}", archive.display());

    let source = Source::Cifar10(tmp.path().to_path_buf());
    let data = load(&source, &opts(32, 3, Split::Test)).expect("load CIFAR-10 subset");
    assert_eq!(data.name, "cifar10");
    assert_eq!(data.classes, vec!["airplane", "cat"]);
    assert_eq!(data.len(), 20);
    assert_eq!(data.labels.iter().filter(|&&l| l == 0).count(), 10);
    assert_eq!((data.size, data.channels), (32, 3));
    assert_eq!(data.pixels.len(), 20 * 3 * 32 * 32);
    for img in data.pixels.chunks_exact(3 * 1024) {
        assert!(img.iter().any(|&v| v > 30), "an image is all black");
    }
    let mean = data.pixels.iter().map(|&v| f64::from(v)).sum::<f64>() / data.pixels.len() as f64;
    assert!((60.0..200.0).contains(&mean), "pixel mean {mean}");

    // Only test/ was extracted: the train split is a layout error.
    let err = load(&source, &opts(32, 3, Split::Train)).expect_err("no train/");
    assert!(matches!(err, DataError::BadLayout { .. }), "{err}");
    assert!(err.to_string().contains("train"), "{err}");
    // Class folders directly in DIR: explain the expected layout.
    let err = load(
        &Source::Cifar10(tmp.path().join("test")),
        &opts(32, 3, Split::Test),
    )
    .expect_err("class folders without test/");
    assert!(matches!(err, DataError::BadLayout { .. }), "{err}");
    assert!(err.to_string().contains("folder:DIR"), "{err}");
}
