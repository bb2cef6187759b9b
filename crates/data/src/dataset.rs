//! The in-memory [`Dataset`] and its accessors.

/// A loaded dataset, images stored as u8 to save memory: N x C x S x S,
/// row-major (NCHW).
#[derive(Clone, Debug)]
pub struct Dataset {
    /// "mnist", "colored-mnist", "cifar10" or "folder:NAME".
    pub name: String,
    /// Image side S.
    pub size: usize,
    /// Channels C (1 or 3).
    pub channels: usize,
    /// All pixels, NCHW; `len() * channels * size * size` bytes.
    pub pixels: Vec<u8>,
    /// One label per image, an index into `classes`.
    pub labels: Vec<u32>,
    /// Class names ("0".."9" for MNIST; sorted folder names for folders).
    pub classes: Vec<String>,
}

/// `v / 127.5 - 1` for every byte value.
fn to_unit_lut() -> [f32; 256] {
    let mut lut = [0f32; 256];
    for (v, x) in lut.iter_mut().enumerate() {
        *x = v as f32 / 127.5 - 1.0;
    }
    lut
}

impl Dataset {
    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are no images.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Bytes per image: `channels * size * size`.
    fn image_len(&self) -> usize {
        self.channels * self.size * self.size
    }

    /// Images `idx` as f32 in [-1, 1] (`v / 127.5 - 1`), NCHW, concatenated:
    /// `idx.len() * C * S * S` values.
    ///
    /// # Panics
    ///
    /// If an index is not below [`Dataset::len`].
    pub fn batch(&self, idx: &[usize]) -> Vec<f32> {
        let lut = to_unit_lut();
        let k = self.image_len();
        let mut out = Vec::with_capacity(idx.len() * k);
        for &i in idx {
            assert!(
                i < self.len(),
                "image index {i} out of range for dataset {} of {} images",
                self.name,
                self.len()
            );
            out.extend(
                self.pixels[i * k..(i + 1) * k]
                    .iter()
                    .map(|&v| lut[usize::from(v)]),
            );
        }
        out
    }

    /// Per-channel mean and (population) standard deviation of all images,
    /// in [-1, 1] units. Zeros for an empty dataset.
    pub fn channel_stats(&self) -> (Vec<f32>, Vec<f32>) {
        let plane = self.size * self.size;
        let mut hist = vec![[0u64; 256]; self.channels];
        if plane > 0 && self.channels > 0 {
            for img in self.pixels.chunks_exact(self.image_len()) {
                for (h, chan) in hist.iter_mut().zip(img.chunks_exact(plane)) {
                    for &v in chan {
                        h[usize::from(v)] += 1;
                    }
                }
            }
        }
        let lut = to_unit_lut();
        let mut means = Vec::with_capacity(self.channels);
        let mut stds = Vec::with_capacity(self.channels);
        for h in &hist {
            let count: u64 = h.iter().sum();
            if count == 0 {
                means.push(0.0);
                stds.push(0.0);
                continue;
            }
            let n = count as f64;
            let weighted = |f: &dyn Fn(f64) -> f64| -> f64 {
                h.iter()
                    .zip(lut.iter())
                    .map(|(&c, &x)| c as f64 * f(f64::from(x)))
                    .sum::<f64>()
                    / n
            };
            let mean = weighted(&|x| x);
            let var = weighted(&|x| (x - mean) * (x - mean));
            means.push(mean as f32);
            stds.push(var.sqrt() as f32);
        }
        (means, stds)
    }

    /// Only the images whose label is in `classes` (for class-split
    /// experiments). Labels, class names and the name are kept as they are.
    pub fn filter_labels(&self, classes: &[u32]) -> Dataset {
        let k = self.image_len();
        let mut pixels = Vec::new();
        let mut labels = Vec::new();
        for (i, &label) in self.labels.iter().enumerate() {
            if classes.contains(&label) {
                if let Some(img) = self.pixels.get(i * k..(i + 1) * k) {
                    pixels.extend_from_slice(img);
                    labels.push(label);
                }
            }
        }
        Dataset {
            name: self.name.clone(),
            size: self.size,
            channels: self.channels,
            pixels,
            labels,
            classes: self.classes.clone(),
        }
    }
}
