//! `Dataset` accessors and `Source` parsing, on synthetic data.

use std::path::PathBuf;

use ganscope_data::{DataError, Dataset, Source};

/// 4 images, 2 channels, 2x2, with labels 0, 1, 2, 1.
fn synthetic() -> Dataset {
    let pixels: Vec<u8> = (0..4 * 2 * 4)
        .map(|i: u32| match i {
            0 => 0,
            1 => 255,
            _ => (i * 37 % 256) as u8,
        })
        .collect();
    Dataset {
        name: "synthetic".into(),
        size: 2,
        channels: 2,
        pixels,
        labels: vec![0, 1, 2, 1],
        classes: vec!["a".into(), "b".into(), "c".into()],
    }
}

#[test]
fn batch_maps_bytes_to_unit_range() {
    let data = synthetic();
    assert_eq!(data.len(), 4);
    assert!(!data.is_empty());
    let b = data.batch(&[0]);
    assert_eq!(b.len(), 8);
    assert_eq!(b[0], -1.0);
    assert_eq!(b[1], 1.0);
    let b = data.batch(&[2, 0]);
    assert_eq!(b.len(), 16);
    for (k, &v) in b.iter().enumerate() {
        let byte = if k < 8 {
            data.pixels[16 + k]
        } else {
            data.pixels[k - 8]
        };
        assert!((v - (f32::from(byte) / 127.5 - 1.0)).abs() < 1e-6);
        assert!((-1.0..=1.0).contains(&v));
    }
    assert!(data.batch(&[]).is_empty());
}

#[test]
fn channel_stats_match_direct_computation() {
    let data = synthetic();
    let (mean, std) = data.channel_stats();
    assert_eq!((mean.len(), std.len()), (2, 2));
    for c in 0..2 {
        let values: Vec<f64> = (0..4)
            .flat_map(|i| data.pixels[i * 8 + c * 4..i * 8 + c * 4 + 4].to_vec())
            .map(|v| f64::from(v) / 127.5 - 1.0)
            .collect();
        let m = values.iter().sum::<f64>() / values.len() as f64;
        let s =
            (values.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / values.len() as f64).sqrt();
        assert!((f64::from(mean[c]) - m).abs() < 1e-5, "channel {c} mean");
        assert!((f64::from(std[c]) - s).abs() < 1e-5, "channel {c} std");
        assert!(s > 0.1);
    }
    let empty = synthetic().filter_labels(&[]);
    assert!(empty.is_empty());
    assert_eq!(empty.channel_stats(), (vec![0.0; 2], vec![0.0; 2]));
}

#[test]
fn filter_labels_keeps_exactly_requested_classes() {
    let data = synthetic();
    let ones = data.filter_labels(&[1]);
    assert_eq!(ones.labels, vec![1, 1]);
    assert_eq!(ones.pixels[..8], data.pixels[8..16]);
    assert_eq!(ones.pixels[8..], data.pixels[24..32]);
    assert_eq!(ones.classes, data.classes);
    let some = data.filter_labels(&[2, 0]);
    assert_eq!(some.labels, vec![0, 2]);
    assert_eq!(some.pixels.len(), 16);
    assert_eq!(data.filter_labels(&[0, 1, 2]).pixels, data.pixels);
}

#[test]
fn source_parsing_and_names() {
    let s: Source = "mnist:data/mnist".parse().expect("mnist");
    assert_eq!(s, Source::Mnist(PathBuf::from("data/mnist")));
    assert_eq!(s.name(), "mnist");
    assert_eq!(s.to_string(), "mnist:data/mnist");
    let s: Source = "cifar10:/d/cifar".parse().expect("cifar10");
    assert_eq!(s, Source::Cifar10(PathBuf::from("/d/cifar")));
    assert_eq!(s.name(), "cifar10");
    let s: Source = "folder:/d/faces/".parse().expect("folder");
    assert_eq!(s, Source::Folder(PathBuf::from("/d/faces/")));
    assert_eq!(s.name(), "folder:faces");
    let s: Source = "folder:C:x".parse().expect("colon in path");
    assert_eq!(s, Source::Folder(PathBuf::from("C:x")));
    for bad in ["svhn:/d", "/d/mnist", "mnist:", "", "MNIST"] {
        let err = bad.parse::<Source>().expect_err(bad);
        assert!(matches!(err, DataError::InvalidSource { .. }), "{err}");
        let msg = err.to_string();
        for form in ["mnist:DIR", "cifar10:DIR", "folder:DIR"] {
            assert!(msg.contains(form), "{msg}");
        }
    }
}
