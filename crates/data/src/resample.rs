//! Separable triangle-filter resampling of grey images with the filter
//! weights computed once for a whole dataset.
//!
//! The arithmetic is that of `image::imageops::resize` with
//! `FilterType::Triangle` (vertical pass into f32, then horizontal pass,
//! clamped and rounded), so results are identical, but about two orders of
//! magnitude faster on many small images.

/// The input pixels `start..start + weights.len()` and their weights for one
/// output pixel.
struct Tap {
    start: usize,
    weights: Vec<f32>,
}

/// `image`'s triangle kernel.
fn triangle(x: f32) -> f32 {
    if x.abs() < 1.0 {
        1.0 - x.abs()
    } else {
        0.0
    }
}

/// Taps to resample `input` pixels to `output` pixels along one axis.
fn taps(input: usize, output: usize) -> Vec<Tap> {
    let ratio = input as f32 / output as f32;
    let sratio = if ratio < 1.0 { 1.0 } else { ratio };
    let support = sratio; // the triangle filter's support is 1
    let last = input as i64 - 1;
    (0..output)
        .map(|o| {
            let centre = (o as f32 + 0.5) * ratio;
            let left = ((centre - support).floor() as i64).clamp(0, last.max(0));
            let right =
                ((centre + support).ceil() as i64).clamp(left + 1, (last + 1).max(left + 1));
            let centre = centre - 0.5;
            let mut weights: Vec<f32> = (left..right)
                .map(|i| triangle((i as f32 - centre) / sratio))
                .collect();
            let mut sum = 0.0;
            for &w in &weights {
                sum += w;
            }
            if sum != 0.0 {
                for w in &mut weights {
                    *w /= sum;
                }
            }
            // Zero weights at either end add nothing: drop them.
            let mut start = left as usize;
            while weights.len() > 1 && weights[0] == 0.0 {
                weights.remove(0);
                start += 1;
            }
            while weights.len() > 1 && weights.last() == Some(&0.0) {
                weights.pop();
            }
            Tap { start, weights }
        })
        .collect()
}

/// `x.clamp(0.0, 255.0).round() as u8` (halves away from zero) without a
/// call to `roundf`, which unoptimised builds make for `f32::round`.
fn round_byte(x: f32) -> u8 {
    let x = x.clamp(0.0, 255.0);
    let floor = x as u8;
    // Exact: x and its floor are below 256.
    let frac = x - f32::from(floor);
    floor + u8::from(frac >= 0.5 && floor < 255)
}

/// Resamples `side` x `side` grey images to `size` x `size`.
pub(crate) struct Resampler {
    side: usize,
    size: usize,
    taps: Vec<Tap>,
    tmp: Vec<f32>,
}

impl Resampler {
    /// A resampler from `side` to `size` (both at least 1).
    pub(crate) fn new(side: usize, size: usize) -> Resampler {
        Resampler {
            side,
            size,
            taps: taps(side, size),
            tmp: vec![0.0; size * side],
        }
    }

    /// Appends the resampled `src` (`side * side` bytes) to `out`.
    pub(crate) fn apply(&mut self, src: &[u8], out: &mut Vec<u8>) {
        let side = self.side;
        // Vertical pass: each output row is a weighted sum of input rows,
        // accumulated in the same order as `image` does.
        for (row, tap) in self.tmp.chunks_exact_mut(side).zip(&self.taps) {
            row.fill(0.0);
            let rows = src.chunks_exact(side).skip(tap.start);
            for (src_row, &w) in rows.zip(&tap.weights) {
                for (t, &v) in row.iter_mut().zip(src_row) {
                    *t += f32::from(v) * w;
                }
            }
        }
        // Horizontal pass, clamped and rounded to bytes.
        for row in self.tmp.chunks_exact(side) {
            if row.iter().all(|&v| v == 0.0) {
                // Common in digit images, and exactly zero either way.
                out.resize(out.len() + self.size, 0);
                continue;
            }
            for tap in &self.taps {
                let window = &row[tap.start..tap.start + tap.weights.len()];
                let mut acc = 0.0f32;
                for (&v, &w) in window.iter().zip(&tap.weights) {
                    acc += v * w;
                }
                out.push(round_byte(acc));
            }
        }
        debug_assert_eq!(self.tmp.len(), self.size * side);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::imageops::{resize, FilterType};
    use image::GrayImage;

    #[test]
    fn round_byte_is_round() {
        let mut x = -3.0f32;
        while x < 260.0 {
            for y in [x, x * (1.0 + f32::EPSILON), x * (1.0 - f32::EPSILON)] {
                assert_eq!(round_byte(y), y.clamp(0.0, 255.0).round() as u8, "{y}");
            }
            x += 0.25;
        }
        assert_eq!(round_byte(f32::NAN), 0);
    }

    #[test]
    fn matches_image_resize_exactly() {
        for (side, size) in [
            (28, 64),
            (28, 16),
            (28, 45),
            (20, 28),
            (3, 7),
            (1, 5),
            (9, 1),
        ] {
            let n = side * side;
            let src: Vec<u8> = (0..n)
                .map(|i| ((i * 97 + i * i * 13) % 256) as u8)
                .collect();
            let img =
                GrayImage::from_raw(side as u32, side as u32, src.clone()).expect("buffer size");
            let want = resize(&img, size as u32, size as u32, FilterType::Triangle);
            let mut got = Vec::new();
            Resampler::new(side, size).apply(&src, &mut got);
            assert_eq!(got, want.into_raw(), "{side} -> {size}");
        }
    }
}
