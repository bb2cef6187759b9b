//! [`WgpuBackend`]: the model crate's [`Backend`] on wgpu. Each operation checks shapes on
//! the CPU, takes its output from the buffer pool and records one dispatch; nothing runs
//! until a readback submits the whole recording at once.

use std::rc::Rc;

use ganscope_model::backend::{Activation, Backend, BatchNormParams, BN_EPS};
use ganscope_model::{Error, Result};

use crate::context::Gpu;
use crate::kernels::Kernel;
use crate::pool::Buf;
use crate::recorder::{elementwise_groups, Recorder};

/// A tensor on the GPU: a buffer (shared by reshapes) and its shape.
#[derive(Clone, Debug)]
pub struct GpuTensor {
    /// The buffer (f32 elements, row-major; may be longer than the shape).
    pub buf: Rc<Buf>,
    /// The shape.
    pub shape: Vec<usize>,
}

impl GpuTensor {
    /// Elements.
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    /// True when the tensor has no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The wgpu backend (inference: BatchNorm uses its running statistics).
pub struct WgpuBackend {
    /// The dispatch recorder.
    pub rec: Recorder,
}

pub(crate) fn shape_err<T>(m: String) -> Result<T> {
    Err(Error::Shape(m))
}

pub(crate) fn u(v: usize) -> Result<u32> {
    u32::try_from(v).map_err(|_| Error::Shape(format!("size {v} does not fit the GPU kernels")))
}

pub(crate) fn nchw(x: &GpuTensor, op: &str) -> Result<[usize; 4]> {
    match x.shape[..] {
        [n, c, h, w] => Ok([n, c, h, w]),
        _ => shape_err(format!("{op} needs [N, C, H, W]; got {:?}", x.shape)),
    }
}

fn words(v: &[f32]) -> impl Iterator<Item = u32> + '_ {
    v.iter().map(|x| x.to_bits())
}

impl WgpuBackend {
    /// A backend on `gpu`.
    pub fn new(gpu: Gpu) -> Self {
        WgpuBackend {
            rec: Recorder::new(gpu),
        }
    }

    /// The device.
    pub fn gpu(&self) -> &Gpu {
        &self.rec.gpu
    }

    /// An activation buffer for `elems` f32 elements.
    pub(crate) fn out(&self, shape: &[usize], op: &str) -> Result<GpuTensor> {
        let n: usize = shape.iter().product();
        Ok(GpuTensor {
            buf: self.rec.take(&self.rec.act, 4 * n as u64, op)?,
            shape: shape.to_vec(),
        })
    }

    /// Uploads u32 words as an `aux` array.
    fn aux(&self, w: &[u32], op: &str) -> Result<Rc<Buf>> {
        self.rec.upload(bytemuck_words(w), op)
    }

    fn elementwise(
        &self,
        k: Kernel,
        params: &[u32],
        aux: Option<&Rc<Buf>>,
        inputs: &[&GpuTensor],
        shape: &[usize],
    ) -> Result<GpuTensor> {
        let y = self.out(shape, k.file())?;
        let bufs: Vec<&Rc<Buf>> = inputs.iter().map(|t| &t.buf).collect();
        let n = y.len() as u64;
        self.rec
            .dispatch(k, params, aux, &bufs, &y.buf, elementwise_groups(n));
        Ok(y)
    }

    /// A persistent tensor (weights): its own buffer, uploaded now.
    pub fn persistent(&self, data: &[f32], shape: &[usize], name: &str) -> Result<GpuTensor> {
        let bytes = 4 * data.len() as u64;
        let max = self.rec.gpu.max_binding();
        if bytes > max {
            return Err(Error::Backend(format!(
                "tensor `{name}` needs {bytes} bytes; this GPU binds at most {max} bytes per buffer"
            )));
        }
        let buf = Buf::standalone(
            &self.rec.gpu.device,
            bytes,
            wgpu::BufferUsages::STORAGE
                | wgpu::BufferUsages::COPY_DST
                | wgpu::BufferUsages::COPY_SRC,
        );
        self.rec
            .gpu
            .queue
            .write_buffer(&buf.buffer, 0, bytemuck_f32(data));
        Ok(GpuTensor {
            buf,
            shape: shape.to_vec(),
        })
    }

    /// Packs `[N, C, H, W]` images in [-1, 1] (C = 1 or 3) into one RGBA8 word per pixel,
    /// `[N, H, W]` (the tensor's elements are u32 words, not f32).
    pub fn to_rgba(&self, x: &GpuTensor) -> Result<GpuTensor> {
        let [n, c, h, w] = nchw(x, "to_rgba")?;
        if c != 1 && c != 3 {
            return shape_err(format!("RGBA conversion takes 1 or 3 channels, not {c}"));
        }
        self.elementwise(
            Kernel::ToRgba,
            &[u(n * h * w)?, u(c)?, u(h * w)?],
            None,
            &[x],
            &[n, h, w],
        )
    }
}

impl WgpuBackend {
    /// Inference BatchNorm with an optional fused activation (one dispatch).
    fn bn(
        &self,
        x: &GpuTensor,
        p: &BatchNormParams<GpuTensor>,
        act: Option<Activation>,
    ) -> Result<GpuTensor> {
        let [n, c, h, w] = nchw(x, "batch_norm")?;
        let ps = [&p.weight, &p.bias, &p.running_mean, &p.running_var];
        if ps.iter().any(|t| t.shape != [c]) {
            return shape_err(format!("batch_norm parameters for {c} channels"));
        }
        let (mode, slope) = match act {
            None => (0, 0.0f32),
            Some(Activation::Relu) => (1, 0.0),
            Some(Activation::LeakyRelu(s)) => (2, s),
            Some(Activation::Tanh) => (3, 0.0),
        };
        let eps = (BN_EPS as f32).to_bits();
        self.elementwise(
            Kernel::BatchNorm,
            &[
                u(n * c * h * w)?,
                u(c)?,
                u(h * w)?,
                eps,
                mode,
                slope.to_bits(),
            ],
            None,
            &[x, ps[0], ps[1], ps[2], ps[3]],
            &x.shape,
        )
    }
}

/// The bytes of f32 values (little-endian, as WGSL reads them).
pub fn bytemuck_f32(v: &[f32]) -> &[u8] {
    bytemuck::cast_slice(v)
}

fn bytemuck_words(v: &[u32]) -> &[u8] {
    bytemuck::cast_slice(v)
}

impl Backend for WgpuBackend {
    type Tensor = GpuTensor;

    fn dims(&self, x: &GpuTensor) -> Vec<usize> {
        x.shape.clone()
    }

    fn tensor(&self, data: Vec<f32>, shape: &[usize]) -> Result<GpuTensor> {
        if data.len() != shape.iter().product::<usize>() {
            return shape_err(format!("{} values for shape {shape:?}", data.len()));
        }
        Ok(GpuTensor {
            buf: self.rec.upload(bytemuck_f32(&data), "an input tensor")?,
            shape: shape.to_vec(),
        })
    }

    fn reshape(&self, x: &GpuTensor, shape: &[usize]) -> Result<GpuTensor> {
        if x.len() != shape.iter().product::<usize>() {
            return shape_err(format!("cannot reshape {:?} to {shape:?}", x.shape));
        }
        Ok(GpuTensor {
            buf: x.buf.clone(),
            shape: shape.to_vec(),
        })
    }

    fn repeat_batch(&self, x: &GpuTensor, n: usize) -> Result<GpuTensor> {
        if x.shape.first() != Some(&1) {
            return shape_err(format!("repeat_batch needs [1, ...]; got {:?}", x.shape));
        }
        self.select_batch(x, &vec![0; n])
    }

    fn select_batch(&self, x: &GpuTensor, idx: &[usize]) -> Result<GpuTensor> {
        if x.shape.is_empty() {
            return shape_err("select_batch of a tensor without a batch dimension".into());
        }
        let rows = x.shape[0];
        if let Some(i) = idx.iter().find(|&&i| i >= rows) {
            return shape_err(format!("row {i} of a batch of {rows}"));
        }
        let row = x.len() / rows.max(1);
        let mut shape = x.shape.clone();
        shape[0] = idx.len();
        let ix: Vec<u32> = idx.iter().map(|&i| u(i)).collect::<Result<_>>()?;
        let aux = self.aux(&ix, "row indices")?;
        self.elementwise(
            Kernel::Gather,
            &[u(idx.len() * row)?, u(row)?, 0],
            Some(&aux),
            &[x],
            &shape,
        )
    }

    fn concat_batch(&self, parts: &[GpuTensor]) -> Result<GpuTensor> {
        let first = parts
            .first()
            .ok_or_else(|| Error::Shape("concat of no tensors".into()))?;
        if parts
            .iter()
            .any(|p| p.shape.is_empty() || p.shape[1..] != first.shape[1..])
        {
            return shape_err("concat of tensors with different row shapes".into());
        }
        let mut shape = first.shape.clone();
        shape[0] = parts.iter().map(|p| p.shape[0]).sum();
        let y = self.out(&shape, "concat")?;
        let mut off = 0;
        for (i, p) in parts.iter().enumerate() {
            let n = p.len();
            let dispatch = if i == 0 {
                Recorder::dispatch
            } else {
                Recorder::dispatch_more
            };
            dispatch(
                &self.rec,
                Kernel::Copy,
                &[u(n)?, u(off)?],
                None,
                &[&p.buf],
                &y.buf,
                elementwise_groups(n as u64),
            );
            off += n;
        }
        Ok(y)
    }

    fn linear(&self, x: &GpuTensor, w: &GpuTensor, b: Option<&GpuTensor>) -> Result<GpuTensor> {
        self.linear_op(x, w, b)
    }

    fn conv2d(
        &self,
        x: &GpuTensor,
        w: &GpuTensor,
        b: Option<&GpuTensor>,
        stride: usize,
        padding: usize,
    ) -> Result<GpuTensor> {
        self.conv2d_op(x, w, b, stride, padding)
    }

    fn conv_transpose2d(
        &self,
        x: &GpuTensor,
        w: &GpuTensor,
        b: Option<&GpuTensor>,
        stride: usize,
        padding: usize,
    ) -> Result<GpuTensor> {
        self.conv_transpose2d_op(x, w, b, stride, padding)
    }

    fn batch_norm(&self, x: &GpuTensor, p: &BatchNormParams<GpuTensor>) -> Result<GpuTensor> {
        self.bn(x, p, None)
    }

    fn batch_norm_act(
        &self,
        x: &GpuTensor,
        p: &BatchNormParams<GpuTensor>,
        act: Activation,
    ) -> Result<GpuTensor> {
        self.bn(x, p, Some(act))
    }

    fn activation(&self, x: &GpuTensor, act: Activation) -> Result<GpuTensor> {
        let (mode, slope) = match act {
            Activation::Relu => (0, 0.0f32),
            Activation::LeakyRelu(s) => (1, s),
            Activation::Tanh => (2, 0.0),
        };
        self.elementwise(
            Kernel::Activation,
            &[u(x.len())?, mode, slope.to_bits()],
            None,
            &[x],
            &x.shape,
        )
    }

    fn add(&self, a: &GpuTensor, b: &GpuTensor) -> Result<GpuTensor> {
        if a.shape != b.shape {
            return shape_err(format!("add of {:?} and {:?}", a.shape, b.shape));
        }
        self.elementwise(Kernel::Add, &[u(a.len())?], None, &[a, b], &a.shape)
    }

    fn upsample2x(&self, x: &GpuTensor) -> Result<GpuTensor> {
        let [n, c, h, w] = nchw(x, "upsample2x")?;
        let shape = [n, c, 2 * h, 2 * w];
        let m = shape.iter().product();
        self.elementwise(
            Kernel::Upsample2x,
            &[u(m)?, u(h)?, u(w)?],
            None,
            &[x],
            &shape,
        )
    }

    fn avg_pool2x(&self, x: &GpuTensor) -> Result<GpuTensor> {
        let [n, c, h, w] = nchw(x, "avg_pool2x")?;
        let shape = [n, c, h / 2, w / 2];
        let m = shape.iter().product();
        self.elementwise(
            Kernel::AvgPool2x,
            &[u(m)?, u(h)?, u(w)?],
            None,
            &[x],
            &shape,
        )
    }

    fn sum_spatial(&self, x: &GpuTensor) -> Result<GpuTensor> {
        let [n, c, h, w] = nchw(x, "sum_spatial")?;
        self.elementwise(
            Kernel::SumSpatial,
            &[u(n * c)?, u(h * w)?],
            None,
            &[x],
            &[n, c],
        )
    }

    fn unit_edit(
        &self,
        x: &GpuTensor,
        alpha: &[f32],
        value: &[f32],
        mask: &[f32],
    ) -> Result<GpuTensor> {
        let [n, c, h, w] = nchw(x, "unit_edit")?;
        if alpha.len() != c || value.len() != c || mask.len() != h * w {
            return shape_err(format!(
                "unit edit vectors of {}, {} and {} values for a {c}x{h}x{w} site",
                alpha.len(),
                value.len(),
                mask.len()
            ));
        }
        let aux: Vec<u32> = words(alpha)
            .chain(words(value))
            .chain(words(mask))
            .collect();
        let aux = self.aux(&aux, "unit edit vectors")?;
        self.elementwise(
            Kernel::UnitEdit,
            &[u(n * c * h * w)?, u(c)?, u(h * w)?, 0, u(c)?, u(2 * c)?],
            Some(&aux),
            &[x],
            &x.shape,
        )
    }

    fn mix(
        &self,
        x: &GpuTensor,
        donor: &[usize],
        channels: &[f32],
        mask: &[f32],
    ) -> Result<GpuTensor> {
        let n = *x.shape.first().unwrap_or(&0);
        if donor.len() != n {
            return shape_err(format!("{} donors for a batch of {n}", donor.len()));
        }
        let base: Vec<usize> = (0..n).collect();
        self.mix_pairs(x, &base, donor, channels, mask)
    }

    fn mix_pairs(
        &self,
        x: &GpuTensor,
        base: &[usize],
        donor: &[usize],
        channels: &[f32],
        mask: &[f32],
    ) -> Result<GpuTensor> {
        let [n, c, h, w] = nchw(x, "mix")?;
        let k = base.len();
        if donor.len() != k || channels.len() != c || mask.len() != h * w {
            return shape_err(format!(
                "hybrid of {k} bases, {} donors, {} channels and {} mask values for [{n}, {c}, {h}, {w}]",
                donor.len(),
                channels.len(),
                mask.len()
            ));
        }
        if let Some(d) = base.iter().chain(donor).find(|&&d| d >= n) {
            return shape_err(format!("hybrid row {d} of a batch of {n}"));
        }
        let mut aux: Vec<u32> = base.iter().chain(donor).map(|&d| d as u32).collect();
        aux.extend(words(channels).chain(words(mask)));
        let aux = self.aux(&aux, "hybrid vectors")?;
        self.elementwise(
            Kernel::Mix,
            &[
                u(k * c * h * w)?,
                u(c)?,
                u(h * w)?,
                0,
                u(k)?,
                u(2 * k)?,
                u(2 * k + c)?,
            ],
            Some(&aux),
            &[x],
            &[k, c, h, w],
        )
    }
}
