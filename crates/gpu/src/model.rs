//! [`GpuModel`]: a model file's generator uploaded once, rendered in one submission per
//! batch (split where a batch would pass the device's buffer limits), with site readback,
//! RGBA output for a canvas, and recovery from a lost device.

use std::ops::Range;

use ganscope_model::backend::Backend;
use ganscope_model::backend::{Init, ParamSource};
use ganscope_model::format::{ModelFile, ModelMeta};
use ganscope_model::generator::Generator;
use ganscope_model::intervention::{MixVectors, Resolved};
use ganscope_model::sample::{render, Batch};
use ganscope_model::shared::{render_hybrid_sets, render_shared};
use ganscope_model::FileError;

use crate::backend::{GpuTensor, WgpuBackend};
use crate::context::Gpu;
use crate::readback::read_buffers;
use crate::{Error, Result};

/// One site's activation after the interventions, for the batch's samples.
#[derive(Clone, Debug, PartialEq)]
pub struct SiteActivation {
    /// Index of the site (0-based; the site named `b{site+1}`).
    pub site: usize,
    /// `[n, C, H, W]`.
    pub shape: [usize; 4],
    /// Row-major values.
    pub data: Vec<f32>,
}

/// What a render returns.
#[derive(Clone, Debug, PartialEq)]
pub struct Rendered {
    /// `[n, C, S, S]` images in [-1, 1], row-major.
    pub images: Vec<f32>,
    /// Their shape.
    pub shape: [usize; 4],
    /// The sites asked for, in the order asked.
    pub sites: Vec<SiteActivation>,
}

struct FileSource<'a, 'f> {
    file: &'a ModelFile<'f>,
    b: &'a WgpuBackend,
}

impl ParamSource<GpuTensor> for FileSource<'_, '_> {
    fn param(&mut self, name: &str, shape: &[usize], _: Init) -> ganscope_model::Result<GpuTensor> {
        let raw = self
            .file
            .tensors
            .get(name)
            .ok_or_else(|| FileError::MissingTensor(name.to_string()))?;
        if raw.shape != shape {
            return Err(FileError::ShapeMismatch {
                name: name.into(),
                expected: shape.to_vec(),
                found: raw.shape.clone(),
            }
            .into());
        }
        self.b.persistent(&self.file.data(name)?, shape, name)
    }
}

/// A generator on the GPU.
pub struct GpuModel {
    /// The file's metadata.
    pub meta: ModelMeta,
    backend: WgpuBackend,
    generator: Generator<GpuTensor>,
    bytes: Vec<u8>,
    max_rows: usize,
    prefix_reuse: bool,
}

/// Output pixels of the largest layer of one sample (GEMM columns per sample).
fn pixels_per_sample(g: &ganscope_model::config::GeneratorConfig) -> usize {
    g.activation_shapes()
        .iter()
        .map(|s| s[1] * s[2])
        .max()
        .unwrap_or(1)
}

/// The largest activation of one sample, in bytes.
fn bytes_per_sample(g: &ganscope_model::config::GeneratorConfig) -> u64 {
    let shapes = g.activation_shapes();
    let mut most = g.latent_dim;
    let mut cin = g.latent_dim;
    for s in &shapes {
        most = most.max(s[0] * s[1] * s[2]).max(cin * s[1] * s[2]);
        cin = s[0];
    }
    4 * most as u64
}

impl GpuModel {
    /// Parses and checks `bytes` (a `.safetensors` model, f32 or f16) and uploads the
    /// generator's weights once.
    pub fn load(gpu: Gpu, bytes: Vec<u8>) -> Result<Self> {
        let file = ModelFile::parse(&bytes)?;
        let per = bytes_per_sample(&file.meta.generator);
        let max = gpu.max_binding();
        if per > max {
            return Err(Error::Gpu(format!(
                "one sample of this model needs a {:.1} MiB activation; this GPU binds at most {:.1} MiB per buffer",
                per as f64 / 1048576.0,
                max as f64 / 1048576.0
            )));
        }
        let backend = WgpuBackend::new(gpu);
        let generator = Generator::new(
            &file.meta.generator,
            &mut FileSource {
                file: &file,
                b: &backend,
            },
        )?;
        let meta = file.meta;
        let meta_g = meta.generator.clone();
        let groups = backend.gpu().limits.max_compute_workgroups_per_dimension as usize;
        Ok(GpuModel {
            meta,
            backend,
            generator,
            bytes,
            max_rows: usize::try_from(max / per)
                .unwrap_or(usize::MAX)
                .min(groups * 64 / pixels_per_sample(&meta_g))
                .max(1),
            prefix_reuse: true,
        })
    }

    /// The backend (for tests and benchmarks).
    pub fn backend(&self) -> &WgpuBackend {
        &self.backend
    }

    /// The generator with its weights on the GPU.
    pub fn generator(&self) -> &Generator<GpuTensor> {
        &self.generator
    }

    /// Batch rows one submission takes at most (set by the buffer-binding limit).
    pub fn max_rows(&self) -> usize {
        self.max_rows
    }

    /// Lowers the rows per submission (tests of batch splitting).
    pub fn set_max_rows(&mut self, rows: usize) {
        self.max_rows = rows.clamp(1, self.max_rows);
    }

    /// Turns prefix reuse ([`ganscope_model::shared`]) off or on (on by default; off only to
    /// measure what it saves).
    pub fn set_prefix_reuse(&mut self, on: bool) {
        self.prefix_reuse = on;
    }

    fn check_sites(&self, sites: &[usize]) -> Result<()> {
        let nsites = self.generator.config.buckets.len();
        match sites.iter().find(|&&s| s >= nsites) {
            Some(s) => Err(Error::Model(ganscope_model::Error::Shape(format!(
                "site index {s}; the model has {nsites} sites"
            )))),
            None => Ok(()),
        }
    }

    /// Re-creates the device and uploads the weights again (after a device loss).
    pub async fn recover(&mut self) -> Result<()> {
        let gpu = Gpu::new().await?;
        let poison = self.backend.rec.poison.get();
        let (rows, reuse) = (self.max_rows, self.prefix_reuse);
        *self = GpuModel::load(gpu, self.bytes.clone())?;
        self.backend.rec.poison.set(poison);
        self.max_rows = rows.min(self.max_rows);
        self.prefix_reuse = reuse;
        Ok(())
    }

    /// Renders `batch` under `resolved`, reading back the images and the activations of
    /// `sites` (after their interventions). A lost device is re-created once.
    pub async fn render(
        &mut self,
        batch: &Batch,
        resolved: &Resolved,
        sites: &[usize],
    ) -> Result<Rendered> {
        self.check_sites(sites)?;
        if self.backend.gpu().lost().is_some() {
            self.recover().await?;
        }
        match self.render_once(batch, resolved, sites).await {
            // lost during this render: once more on a new device
            Err(_) if self.backend.gpu().lost().is_some() => {
                self.recover().await?;
                self.render_once(batch, resolved, sites).await
            }
            r => r,
        }
    }

    async fn render_once(
        &self,
        batch: &Batch,
        resolved: &Resolved,
        sites: &[usize],
    ) -> Result<Rendered> {
        let cfg = &self.generator.config;
        let img = [cfg.channels, cfg.image_size, cfg.image_size];
        let mut out = Rendered {
            images: Vec::with_capacity(batch.n * img.iter().product::<usize>()),
            shape: [batch.n, img[0], img[1], img[2]],
            sites: Vec::new(),
        };
        let site_shapes = self.generator.sites();
        for &s in sites {
            let [c, h, w] = site_shapes[s].1;
            out.sites.push(SiteActivation {
                site: s,
                shape: [batch.n, c, h, w],
                data: Vec::new(),
            });
        }
        for (chunk, range) in split(batch, self.max_rows)? {
            let (y, acts) = self.record(&chunk, resolved, sites)?;
            let mut items = vec![(&y.buf, 4 * y.len() as u64)];
            items.extend(acts.iter().map(|a| (&a.buf, 4 * a.len() as u64)));
            let data = read_buffers(&self.backend.rec, &items).await?;
            debug_assert_eq!(range.len(), chunk.n);
            let mut it = data.into_iter();
            out.images.extend(f32s(&it.next().unwrap_or_default()));
            for (s, d) in out.sites.iter_mut().zip(it) {
                s.data.extend(f32s(&d));
            }
        }
        Ok(out)
    }

    /// Records a render of `batch`: the images and the sites' activations (samples only),
    /// each distinct partial state computed once unless prefix reuse is off.
    pub fn record(
        &self,
        batch: &Batch,
        resolved: &Resolved,
        sites: &[usize],
    ) -> Result<(GpuTensor, Vec<GpuTensor>)> {
        let b = &self.backend;
        self.check_sites(sites)?;
        if self.prefix_reuse {
            return Ok(render_shared(&self.generator, b, batch, resolved, sites)?);
        }
        let mut seen: Vec<Option<GpuTensor>> = vec![None; self.generator.config.buckets.len()];
        let mut observe = |s: usize, x: &GpuTensor| {
            if sites.contains(&s) {
                seen[s] = Some(x.clone());
            }
            Ok(())
        };
        let y = render(&self.generator, b, batch, resolved, &mut observe)?;
        let rows: Vec<usize> = (0..batch.n).collect();
        let mut acts = Vec::with_capacity(sites.len());
        for &s in sites {
            let x = seen[s]
                .clone()
                .ok_or_else(|| Error::Gpu(format!("site {s} was not reached")))?;
            acts.push(if batch.rows() == batch.n {
                x
            } else {
                b.select_batch(&x, &rows)? // [n, C, H, W]
            });
        }
        Ok((y, acts))
    }

    /// Hybrids of many channel sets at `site` with the tail batched
    /// ([`render_hybrid_sets`]): `[sets * n, C, S, S]`, set-major. The batch and the sets are
    /// split so that no submission passes the device's row limit. A lost device is
    /// re-created first.
    pub async fn render_hybrid_sets(
        &mut self,
        batch: &Batch,
        resolved: &Resolved,
        site: usize,
        sets: &[MixVectors],
    ) -> Result<Vec<f32>> {
        self.check_sites(&[site])?;
        if sets.is_empty() {
            return Err(Error::Model(ganscope_model::Error::InvalidIntervention(
                "no channel sets to mix".into(),
            )));
        }
        batch.check()?;
        if self.backend.gpu().lost().is_some() {
            self.recover().await?;
        }
        match self.hybrid_sets_once(batch, resolved, site, sets).await {
            // lost during this render: once more on a new device
            Err(_) if self.backend.gpu().lost().is_some() => {
                self.recover().await?;
                self.hybrid_sets_once(batch, resolved, site, sets).await
            }
            r => r,
        }
    }

    async fn hybrid_sets_once(
        &self,
        batch: &Batch,
        resolved: &Resolved,
        site: usize,
        sets: &[MixVectors],
    ) -> Result<Vec<f32>> {
        let cfg = &self.generator.config;
        let per = cfg.channels * cfg.image_size * cfg.image_size;
        let n = batch.n;
        let mut out = vec![0f32; sets.len() * n * per];
        for (chunk, range) in split(batch, (self.max_rows / 2).max(1))? {
            let per_pass = (self.max_rows.saturating_sub(chunk.rows()) / chunk.n).max(1);
            for (k, group) in sets.chunks(per_pass).enumerate() {
                let y = render_hybrid_sets(
                    &self.generator,
                    &self.backend,
                    &chunk,
                    resolved,
                    site,
                    group,
                )?;
                let data = read_buffers(&self.backend.rec, &[(&y.buf, 4 * y.len() as u64)]).await?;
                let vals: Vec<f32> = f32s(&data.concat()).collect();
                for (j, rows) in vals.chunks(chunk.n * per).enumerate() {
                    let s = k * per_pass + j;
                    let at = (s * n + range.start) * per;
                    out[at..at + rows.len()].copy_from_slice(rows);
                }
            }
        }
        Ok(out)
    }

    /// Renders `batch` to RGBA8 bytes, `n x S x S x 4` (a canvas's `ImageData` layout).
    pub async fn render_rgba(&mut self, batch: &Batch, resolved: &Resolved) -> Result<Vec<u8>> {
        if self.backend.gpu().lost().is_some() {
            self.recover().await?;
        }
        let mut bytes = Vec::new();
        for (chunk, _) in split(batch, self.max_rows)? {
            let (y, _) = self.record(&chunk, resolved, &[])?;
            let px = self.backend.to_rgba(&y)?;
            let data = read_buffers(&self.backend.rec, &[(&px.buf, 4 * px.len() as u64)]).await?;
            bytes.extend(data.into_iter().flatten());
        }
        Ok(bytes)
    }
}

fn f32s(bytes: &[u8]) -> impl Iterator<Item = f32> + '_ {
    bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
}

/// Splits a batch into sub-batches of about `max_rows` rows, each sample with the rows it
/// mixes with (its donor, the donor's donor...); returns each sub-batch with the range of
/// samples it renders.
pub fn split(batch: &Batch, max_rows: usize) -> Result<Vec<(Batch, Range<usize>)>> {
    batch.check()?;
    if batch.rows() <= max_rows {
        return Ok(vec![(batch.clone(), 0..batch.n)]);
    }
    let mixes = (0..batch.rows()).any(|r| batch.donors[r] != r);
    let step = if mixes {
        (max_rows / 2).max(1)
    } else {
        max_rows
    };
    let dim = batch
        .z
        .as_ref()
        .map_or(0, |z| z.len() / batch.rows().max(1));
    Ok((0..batch.n)
        .step_by(step)
        .map(|a| {
            let range = a..(a + step).min(batch.n);
            let mut rows: Vec<usize> = range.clone().collect();
            let mut k = 0;
            while k < rows.len() {
                let d = batch.donors[rows[k]];
                if !rows.contains(&d) {
                    rows.push(d);
                }
                k += 1;
            }
            let pos = |r: usize| rows.iter().position(|&x| x == r).unwrap_or(0);
            let sub = Batch {
                z: batch.z.as_ref().map(|z| {
                    rows.iter()
                        .flat_map(|&r| z[r * dim..(r + 1) * dim].iter().copied())
                        .collect()
                }),
                paths: rows.iter().map(|&r| batch.paths[r].clone()).collect(),
                donors: rows.iter().map(|&r| pos(batch.donors[r])).collect(),
                n: range.len(),
            };
            (sub, range)
        })
        .collect())
}
