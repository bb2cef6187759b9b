//! [`WgpuBackend`]: the model crate's [`Backend`] on wgpu. Each operation checks shapes on
//! the CPU, takes its output from the buffer pool and records one dispatch; nothing runs
//! until a readback submits the whole recording at once.

use std::rc::Rc;

use ganscope_model::backend::{Activation, Backend, BatchNormParams, BN_EPS};
use ganscope_model::{Error, Result};

use crate::context::Gpu;
use crate::kernels::Params;
use crate::params::{
    act, ActivationParams, AddParams, CopyParams, GatherParams, MixParams, NormParams,
    Resample2xParams, SumSpatialParams, ToRgbaParams, UnitEditParams,
};
use crate::pool::Buf;
use crate::recorder::{elementwise_groups, Dispatch, Recorder};

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

/// The code and slope of an activation in `common/activation.wgsl`.
fn act_code(a: Option<Activation>) -> (u32, f32) {
    match a {
        None => (act::NONE, 0.0),
        Some(Activation::Relu) => (act::RELU, 0.0),
        Some(Activation::LeakyRelu(s)) => (act::LEAKY_RELU, s),
        Some(Activation::Tanh) => (act::TANH, 0.0),
        Some(Activation::Sigmoid) => (act::SIGMOID, 0.0),
    }
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

    /// Records an element-wise kernel (one invocation per output element) into a fresh
    /// output of `shape`.
    fn elementwise(
        &self,
        params: Params,
        aux: Option<&Rc<Buf>>,
        inputs: &[&GpuTensor],
        shape: &[usize],
    ) -> Result<GpuTensor> {
        let y = self.out(shape, params.kernel().file())?;
        let bufs: Vec<&Rc<Buf>> = inputs.iter().map(|t| &t.buf).collect();
        let groups = elementwise_groups(y.len() as u64);
        self.rec.record(Dispatch {
            aux,
            ..Dispatch::new(params, &bufs, &y.buf, groups)
        });
        Ok(y)
    }

    /// A persistent tensor (weights): its own buffer, uploaded now.
    pub fn persistent(&self, data: &[f32], shape: &[usize], name: &str) -> Result<GpuTensor> {
        let bytes = 4 * data.len() as u64;
        let max = self.rec.gpu.max_binding();
        if bytes > max {
            let msg = format!(
                "tensor `{name}` needs {bytes} bytes; this GPU binds at most {max} bytes per buffer"
            );
            return Err(Error::backend(crate::Error::Limit(msg)));
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
        let p = ToRgbaParams {
            n: u(n * h * w)?,
            c: u(c)?,
            hw: u(h * w)?,
        };
        self.elementwise(Params::ToRgba(p), None, &[x], &[n, h, w])
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
        let (act, slope) = act_code(act);
        let params = NormParams {
            n: u(n * c * h * w)?,
            c: u(c)?,
            hw: u(h * w)?,
            eps: BN_EPS as f32,
            act,
            slope,
        };
        self.elementwise(
            Params::BatchNorm(params),
            None,
            &[x, ps[0], ps[1], ps[2], ps[3]],
            &x.shape,
        )
    }
}

impl WgpuBackend {
    /// Up-sampling or pooling of `x` `[N, C, H, W]` into `shape` (`make` names the kernel).
    fn resample2x(
        &self,
        make: fn(Resample2xParams) -> Params,
        x: &GpuTensor,
        shape: [usize; 4],
    ) -> Result<GpuTensor> {
        let p = Resample2xParams {
            n: u(shape.iter().product())?,
            h: u(x.shape[2])?,
            w: u(x.shape[3])?,
        };
        self.elementwise(make(p), None, &[x], &shape)
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
        let p = GatherParams {
            n: u(idx.len() * row)?,
            row: u(row)?,
            idx: 0,
        };
        self.elementwise(Params::Gather(p), Some(&aux), &[x], &shape)
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
            let params = Params::Copy(CopyParams {
                n: u(n)?,
                offset: u(off)?,
            });
            self.rec.record(Dispatch {
                // the first part starts the output, the others write more of it
                continues: i > 0,
                ..Dispatch::new(params, &[&p.buf], &y.buf, elementwise_groups(n as u64))
            });
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
        let (act, slope) = act_code(Some(act));
        let p = ActivationParams {
            n: u(x.len())?,
            act,
            slope,
        };
        self.elementwise(Params::Activation(p), None, &[x], &x.shape)
    }

    fn add(&self, a: &GpuTensor, b: &GpuTensor) -> Result<GpuTensor> {
        if a.shape != b.shape {
            return shape_err(format!("add of {:?} and {:?}", a.shape, b.shape));
        }
        let p = AddParams { n: u(a.len())? };
        self.elementwise(Params::Add(p), None, &[a, b], &a.shape)
    }

    fn upsample2x(&self, x: &GpuTensor) -> Result<GpuTensor> {
        let [n, c, h, w] = nchw(x, "upsample2x")?;
        self.resample2x(Params::Upsample2x, x, [n, c, 2 * h, 2 * w])
    }

    fn upsample2x_bilinear(&self, x: &GpuTensor) -> Result<GpuTensor> {
        let [n, c, h, w] = nchw(x, "upsample2x_bilinear")?;
        self.resample2x(Params::Upsample2xBilinear, x, [n, c, 2 * h, 2 * w])
    }

    fn avg_pool2x(&self, x: &GpuTensor) -> Result<GpuTensor> {
        let [n, c, h, w] = nchw(x, "avg_pool2x")?;
        self.resample2x(Params::AvgPool2x, x, [n, c, h / 2, w / 2])
    }

    fn sum_spatial(&self, x: &GpuTensor) -> Result<GpuTensor> {
        let [n, c, h, w] = nchw(x, "sum_spatial")?;
        let p = SumSpatialParams {
            n: u(n * c)?,
            hw: u(h * w)?,
        };
        self.elementwise(Params::SumSpatial(p), None, &[x], &[n, c])
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
        let p = UnitEditParams {
            n: u(n * c * h * w)?,
            c: u(c)?,
            hw: u(h * w)?,
            alpha: 0,
            value: u(c)?,
            mask: u(2 * c)?,
        };
        self.elementwise(Params::UnitEdit(p), Some(&aux), &[x], &x.shape)
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
        let p = MixParams {
            n: u(k * c * h * w)?,
            c: u(c)?,
            hw: u(h * w)?,
            base: 0,
            donor: u(k)?,
            channels: u(2 * k)?,
            mask: u(2 * k + c)?,
        };
        self.elementwise(Params::Mix(p), Some(&aux), &[x], &[k, c, h, w])
    }
}
