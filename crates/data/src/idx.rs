//! MNIST: IDX file parsing (raw or gzipped) and conversion to a [`Dataset`].

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use flate2::read::GzDecoder;
use rand::{Rng, SeedableRng};

use crate::resample::Resampler;
use crate::{DataError, Dataset, LoadOptions, Result, Split};

/// Magic number of an IDX file of unsigned bytes with 3 dimensions (images).
pub const IMAGES_MAGIC: u32 = 0x0000_0803;
/// Magic number of an IDX file of unsigned bytes with 1 dimension (labels).
pub const LABELS_MAGIC: u32 = 0x0000_0801;
/// Largest number of items accepted in one IDX file.
const MAX_ITEMS: usize = 10_000_000;
/// Largest image side accepted in an IDX file.
const MAX_SIDE: usize = 1024;
/// Largest amount of pixel data accepted from one IDX file (4 GiB).
const MAX_BYTES: u64 = 4 << 30;
/// Largest up-front allocation made from what a header declares.
const MAX_PREALLOC: u64 = 256 << 20;

/// Images read from an IDX file: `n` images of `rows` x `cols` bytes.
pub(crate) struct IdxImages {
    pub n: usize,
    pub rows: usize,
    pub cols: usize,
    pub pixels: Vec<u8>,
}

/// The byte source of an IDX file: the raw file or a gzip decoder over it.
enum Source {
    Raw(BufReader<File>),
    Gz(Box<GzDecoder<BufReader<File>>>),
}

impl Source {
    fn reader(&mut self) -> &mut dyn Read {
        match self {
            Source::Raw(r) => r,
            Source::Gz(r) => r.as_mut(),
        }
    }

    /// Turns a read error into the right [`DataError`] for `path`.
    fn error(&self, path: &Path, e: std::io::Error) -> DataError {
        match self {
            Source::Raw(_) => DataError::Io {
                path: path.to_path_buf(),
                source: e,
            },
            Source::Gz(_) => DataError::CorruptGzip {
                path: path.to_path_buf(),
                reason: e.to_string(),
            },
        }
    }

    /// Reads until `buf` is full or the stream ends; returns the bytes read.
    fn read_full(&mut self, path: &Path, buf: &mut [u8]) -> Result<usize> {
        let mut done = 0;
        while done < buf.len() {
            match self.reader().read(&mut buf[done..]) {
                Ok(0) => break,
                Ok(k) => done += k,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(self.error(path, e)),
            }
        }
        Ok(done)
    }
}

/// Opens `path`, decompressing on the fly when it is gzipped.
///
/// Gzip is recognised by its signature, so a decompressed file that kept its
/// `.gz` name still loads; a `.gz` file that is neither gzip nor IDX is an error.
fn open(path: &Path) -> Result<(Source, u64)> {
    let file = File::open(path).map_err(DataError::io(path))?;
    let file_len = file.metadata().map_err(DataError::io(path))?.len();
    let mut reader = BufReader::with_capacity(1 << 16, file);
    let head = reader.fill_buf().map_err(DataError::io(path))?;
    let is_gzip = head.starts_with(&[0x1f, 0x8b]);
    let looks_idx = head.len() >= 4 && head[..3] == [0, 0, 8];
    let named_gz = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("gz"));
    if is_gzip {
        Ok((Source::Gz(Box::new(GzDecoder::new(reader))), file_len))
    } else if named_gz && !looks_idx {
        Err(DataError::CorruptGzip {
            path: path.to_path_buf(),
            reason: "the file does not start with the gzip signature 1f 8b".into(),
        })
    } else {
        Ok((Source::Raw(reader), file_len))
    }
}

/// Reads an IDX file of unsigned bytes: returns its dimensions and data.
fn read_idx(path: &Path, magic: u32, kind: &str) -> Result<(Vec<usize>, Vec<u8>)> {
    let ndims = (magic & 0xff) as usize;
    let header_len = 4 + 4 * ndims as u64;
    let (mut src, file_len) = open(path)?;
    let mut header = vec![0u8; header_len as usize];
    let got = src.read_full(path, &mut header[..4])?;
    if got < 4 {
        return Err(DataError::Truncated {
            path: path.to_path_buf(),
            expected: header_len,
            found: got as u64,
        });
    }
    let found = u32::from_be_bytes([header[0], header[1], header[2], header[3]]);
    if found != magic {
        return Err(DataError::BadMagic {
            path: path.to_path_buf(),
            kind: kind.into(),
            found,
            expected: magic,
        });
    }
    let got = 4 + src.read_full(path, &mut header[4..])?;
    if got < header.len() {
        return Err(DataError::Truncated {
            path: path.to_path_buf(),
            expected: header_len,
            found: got as u64,
        });
    }
    let dims: Vec<usize> = header[4..]
        .chunks_exact(4)
        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]) as usize)
        .collect();
    let bad = |reason: String| DataError::BadHeader {
        path: path.to_path_buf(),
        reason,
    };
    if dims[0] > MAX_ITEMS {
        return Err(bad(format!(
            "it declares {} items, more than the limit of {MAX_ITEMS}",
            dims[0]
        )));
    }
    for &side in &dims[1..] {
        if !(1..=MAX_SIDE).contains(&side) {
            return Err(bad(format!(
                "image side {side} is outside 1..={MAX_SIDE} (dimensions {dims:?})"
            )));
        }
    }
    let expected: u64 = dims.iter().map(|&d| d as u64).product();
    if expected > MAX_BYTES {
        return Err(bad(format!(
            "dimensions {dims:?} need {expected} bytes, more than the limit of {MAX_BYTES}"
        )));
    }
    if let Source::Raw(_) = src {
        // The file length tells everything before any allocation.
        let total = header_len + expected;
        if file_len < total {
            return Err(DataError::Truncated {
                path: path.to_path_buf(),
                expected: total,
                found: file_len,
            });
        }
        if file_len > total {
            return Err(DataError::TrailingBytes {
                path: path.to_path_buf(),
                expected: total,
            });
        }
    }
    let mut data = Vec::with_capacity(expected.min(MAX_PREALLOC) as usize);
    let read = src.reader().take(expected).read_to_end(&mut data);
    if let Err(e) = read {
        return Err(src.error(path, e));
    }
    if (data.len() as u64) < expected {
        return Err(DataError::Truncated {
            path: path.to_path_buf(),
            expected: header_len + expected,
            found: header_len + data.len() as u64,
        });
    }
    if let Source::Gz(_) = src {
        // Reading to the end also checks the gzip CRC.
        let mut rest = [0u8; 64];
        if src.read_full(path, &mut rest)? > 0 {
            return Err(DataError::TrailingBytes {
                path: path.to_path_buf(),
                expected: header_len + expected,
            });
        }
    }
    Ok((dims, data))
}

/// Reads an IDX images file (magic `0x00000803`).
pub(crate) fn read_images(path: &Path) -> Result<IdxImages> {
    let (dims, pixels) = read_idx(path, IMAGES_MAGIC, "images")?;
    Ok(IdxImages {
        n: dims[0],
        rows: dims[1],
        cols: dims[2],
        pixels,
    })
}

/// Reads an IDX labels file (magic `0x00000801`); every label must be below 10.
pub(crate) fn read_labels(path: &Path) -> Result<Vec<u8>> {
    let (_, labels) = read_idx(path, LABELS_MAGIC, "labels")?;
    if let Some((index, &value)) = labels.iter().enumerate().find(|(_, &v)| v >= 10) {
        return Err(DataError::BadLabel {
            path: path.to_path_buf(),
            index,
            value,
        });
    }
    Ok(labels)
}

/// Finds `base` or `base.gz` in `dir`, preferring the raw file when both exist.
fn find_file(dir: &Path, base: &str, kind: &str) -> Result<PathBuf> {
    let names = [base.to_string(), format!("{base}.gz")];
    names
        .iter()
        .map(|n| dir.join(n))
        .find(|p| p.is_file())
        .ok_or_else(|| DataError::MnistFileMissing {
            dir: dir.to_path_buf(),
            kind: kind.into(),
            looked_for: format!("{} or {}", names[1], names[0]),
        })
}

/// Loads MNIST (or any IDX dataset laid out like it) from `dir`.
pub(crate) fn load_mnist(dir: &Path, opts: &LoadOptions, colored: bool) -> Result<Dataset> {
    if !dir.is_dir() {
        return Err(DataError::NotFound {
            path: dir.to_path_buf(),
            what: "MNIST folder".into(),
        });
    }
    let prefix = match opts.split {
        Split::Train => "train",
        Split::Test => "t10k",
    };
    let images_path = find_file(dir, &format!("{prefix}-images-idx3-ubyte"), "images")?;
    let labels_path = find_file(dir, &format!("{prefix}-labels-idx1-ubyte"), "labels")?;
    let images = read_images(&images_path)?;
    let mut labels = read_labels(&labels_path)?;
    if labels.len() != images.n {
        return Err(DataError::CountMismatch {
            images: images_path,
            n_images: images.n,
            labels: labels_path,
            n_labels: labels.len(),
        });
    }
    let n = opts.limit.map_or(images.n, |l| l.min(images.n));
    labels.truncate(n);
    if n == 0 {
        return Err(DataError::NoImages {
            path: images_path,
            detail: "the file declares 0 images or the limit is 0".into(),
        });
    }
    let grey = resize_grey(&images, n, opts.size);
    let s2 = opts.size * opts.size;
    let (channels, pixels) = if colored {
        (3, colorize(&grey, s2, opts.seed))
    } else if opts.channels == 3 {
        let mut out = Vec::with_capacity(grey.len() * 3);
        for img in grey.chunks_exact(s2) {
            for _ in 0..3 {
                out.extend_from_slice(img);
            }
        }
        (3, out)
    } else {
        (1, grey)
    };
    Ok(Dataset {
        name: if colored { "colored-mnist" } else { "mnist" }.into(),
        size: opts.size,
        channels,
        pixels,
        labels: labels.into_iter().map(u32::from).collect(),
        classes: (0..10).map(|c| c.to_string()).collect(),
    })
}

/// The first `n` images brought to `size` x `size`: kept as they are when the
/// size already matches, padded with black when 28 -> 32 (exact, the LeNet
/// convention), centre-cropped to a square and resampled with the triangle
/// filter otherwise.
fn resize_grey(images: &IdxImages, n: usize, size: usize) -> Vec<u8> {
    let (rows, cols) = (images.rows, images.cols);
    let in_len = rows * cols;
    let src = &images.pixels[..n * in_len];
    if rows == size && cols == size {
        return src.to_vec();
    }
    let mut out = Vec::with_capacity(n * size * size);
    if rows == 28 && cols == 28 && size == 32 {
        for img in src.chunks_exact(in_len) {
            out.extend_from_slice(&[0; 2 * 32 + 2]);
            for (r, row) in img.chunks_exact(28).enumerate() {
                out.extend_from_slice(row);
                out.extend_from_slice(if r == 27 { &[0; 2 + 2 * 32] } else { &[0; 4] });
            }
        }
        return out;
    }
    // Largest centred square, then triangle-filter resampling.
    let side = rows.min(cols);
    let (top, left) = ((rows - side) / 2, (cols - side) / 2);
    let mut resampler = Resampler::new(side, size);
    let mut square = Vec::with_capacity(side * side);
    for img in src.chunks_exact(in_len) {
        square.clear();
        for row in img.chunks_exact(cols).skip(top).take(side) {
            square.extend_from_slice(&row[left..left + side]);
        }
        resampler.apply(&square, &mut out);
    }
    out
}

/// Draws the stroke colour of one colored-MNIST digit: each component uniform
/// in [0, 1], drawn again while the brightest component is below 0.5.
pub(crate) fn draw_colour(rng: &mut impl Rng) -> [f32; 3] {
    loop {
        let c: [f32; 3] = [rng.random(), rng.random(), rng.random()];
        if c.iter().copied().fold(0.0, f32::max) >= 0.5 {
            return c;
        }
    }
}

/// Randomly colored MNIST: grey images (`s2` pixels each) to RGB, the stroke
/// tinted with one random colour per image, the background left black.
fn colorize(grey: &[u8], s2: usize, seed: u64) -> Vec<u8> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut out = Vec::with_capacity(grey.len() * 3);
    for img in grey.chunks_exact(s2) {
        let colour = draw_colour(&mut rng);
        for c in colour {
            let mut lut = [0u8; 256];
            for (g, v) in lut.iter_mut().enumerate() {
                *v = (g as f32 * c).round() as u8;
            }
            out.extend(img.iter().map(|&g| lut[usize::from(g)]));
        }
    }
    out
}
