//! Image folders (`DIR/<class>/<file>.png|jpg|jpeg`) and CIFAR-10 JPEG folders.

use std::fs;
use std::path::{Path, PathBuf};

use image::imageops::FilterType;
use image::DynamicImage;

use crate::{DataError, Dataset, LoadOptions, Result, Split};

/// What an image folder must hold.
const NO_IMAGES: &str = "expected .png, .jpg or .jpeg files in class subfolders \
                         (DIR/<class>/<file>) or directly in the folder";

/// Whether `path` names an image file this crate reads (by extension, any case).
fn is_image_file(path: &Path) -> bool {
    path.extension().and_then(|e| e.to_str()).is_some_and(|e| {
        ["png", "jpg", "jpeg"]
            .iter()
            .any(|x| e.eq_ignore_ascii_case(x))
    })
}

/// Whether the entry name starts with a dot.
fn is_hidden(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_none_or(|n| n.starts_with('.'))
}

/// The non-hidden entries of `dir`, sorted by name.
fn sorted_entries(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).map_err(DataError::io(dir))? {
        let path = entry.map_err(DataError::io(dir))?.path();
        if !is_hidden(&path) {
            out.push(path);
        }
    }
    out.sort();
    Ok(out)
}

/// The image files directly in `dir`, sorted by name.
fn image_files(dir: &Path) -> Result<Vec<PathBuf>> {
    Ok(sorted_entries(dir)?
        .into_iter()
        .filter(|p| p.is_file() && is_image_file(p))
        .collect())
}

/// The last component of `path` as text (the path itself when it has none).
pub(crate) fn last_component(path: &Path) -> String {
    let name = |p: &Path| p.file_name().map(|n| n.to_string_lossy().into_owned());
    name(path)
        .or_else(|| name(&path.canonicalize().ok()?))
        .unwrap_or_else(|| path.display().to_string())
}

/// Image files with their labels, in load order.
type LabelledFiles = Vec<(PathBuf, u32)>;

/// Classes (sorted subfolder names) and the `(file, label)` list of an image
/// folder. A folder without subfolders is one class named after the folder.
fn scan(dir: &Path) -> Result<(Vec<String>, LabelledFiles)> {
    if !dir.is_dir() {
        return Err(DataError::NotFound {
            path: dir.to_path_buf(),
            what: "image folder".into(),
        });
    }
    let subdirs: Vec<PathBuf> = sorted_entries(dir)?
        .into_iter()
        .filter(|p| p.is_dir())
        .collect();
    let mut classes = Vec::new();
    let mut files = Vec::new();
    if subdirs.is_empty() {
        classes.push(last_component(dir));
        files.extend(image_files(dir)?.into_iter().map(|f| (f, 0)));
    } else {
        for (label, sub) in (0u32..).zip(&subdirs) {
            classes.push(last_component(sub));
            files.extend(image_files(sub)?.into_iter().map(|f| (f, label)));
        }
    }
    if files.is_empty() {
        return Err(DataError::NoImages {
            path: dir.to_path_buf(),
            detail: NO_IMAGES.into(),
        });
    }
    Ok((classes, files))
}

/// Brings an image to `size` x `size`: the largest centred square is cut out,
/// then resampled with the triangle filter (no resampling when it already has
/// that size). Same geometry as `resize_to_fill`, without resampling the parts
/// that are cropped away.
fn square(img: DynamicImage, size: usize) -> DynamicImage {
    let (w, h) = (img.width(), img.height());
    let side = w.min(h);
    let img = if w == h {
        img
    } else {
        img.crop_imm((w - side) / 2, (h - side) / 2, side, side)
    };
    let size = size as u32;
    if side == size {
        img
    } else {
        img.resize_exact(size, size, FilterType::Triangle)
    }
}

/// Decodes one image file to `channels` x `size` x `size` bytes appended to `out`.
fn decode_into(path: &Path, size: usize, channels: usize, out: &mut Vec<u8>) -> Result<()> {
    let corrupt = |reason: String| DataError::CorruptImage {
        path: path.to_path_buf(),
        reason,
    };
    let img = image::ImageReader::open(path)
        .map_err(DataError::io(path))?
        .with_guessed_format()
        .map_err(DataError::io(path))?
        .decode()
        .map_err(|e| corrupt(e.to_string()))?;
    if img.width() == 0 || img.height() == 0 {
        return Err(corrupt("the image has zero width or height".into()));
    }
    let img = square(img, size);
    if channels == 1 {
        out.extend_from_slice(img.to_luma8().as_raw());
    } else {
        // Interleaved RGB to planar (CHW).
        let rgb = img.to_rgb8();
        let raw = rgb.as_raw();
        for c in 0..3 {
            out.extend(raw.iter().skip(c).step_by(3));
        }
    }
    Ok(())
}

/// Loads an image folder; `name` becomes the dataset name.
pub(crate) fn load_folder(dir: &Path, opts: &LoadOptions, name: String) -> Result<Dataset> {
    let (classes, mut files) = scan(dir)?;
    if let Some(limit) = opts.limit {
        files.truncate(limit);
    }
    if files.is_empty() {
        return Err(DataError::NoImages {
            path: dir.to_path_buf(),
            detail: "the limit is 0".into(),
        });
    }
    let per_image = opts.channels * opts.size * opts.size;
    let mut pixels = Vec::with_capacity(files.len() * per_image);
    let mut labels = Vec::with_capacity(files.len());
    for (path, label) in &files {
        decode_into(path, opts.size, opts.channels, &mut pixels)?;
        labels.push(*label);
    }
    Ok(Dataset {
        name,
        size: opts.size,
        channels: opts.channels,
        pixels,
        labels,
        classes,
    })
}

/// Loads the CIFAR-10 JPEG layout: `DIR/train/<class>/*.jpg`, `DIR/test/<class>/*.jpg`.
pub(crate) fn load_cifar10(dir: &Path, opts: &LoadOptions) -> Result<Dataset> {
    let expected = "expected the extracted CIFAR-10 JPEG archive, i.e. DIR/train/<class>/NNNN.jpg \
                    and DIR/test/<class>/NNNN.jpg";
    if dir.is_file() {
        return Err(DataError::BadLayout {
            path: dir.to_path_buf(),
            reason: format!("this is a file, not a folder; {expected} (extract archives first)"),
        });
    }
    if !dir.is_dir() {
        return Err(DataError::NotFound {
            path: dir.to_path_buf(),
            what: "CIFAR-10 folder".into(),
        });
    }
    let split = dir.join(match opts.split {
        Split::Train => "train",
        Split::Test => "test",
    });
    if !split.is_dir() {
        let has_class_dirs = sorted_entries(dir)?
            .iter()
            .any(|p| p.is_dir() && image_files(p).is_ok_and(|f| !f.is_empty()));
        let hint = if has_class_dirs {
            "; this folder holds class folders directly (no train/ and test/): \
             load it with folder:DIR instead, or move the class folders under train/ or test/"
        } else {
            ""
        };
        return Err(DataError::BadLayout {
            path: dir.to_path_buf(),
            reason: format!("{} is missing; {expected}{hint}", split.display()),
        });
    }
    load_folder(&split, opts, "cifar10".into())
}
