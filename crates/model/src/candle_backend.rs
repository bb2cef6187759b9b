//! The candle implementation of [`Backend`]: the training backend (with autograd), the CPU
//! reference for every test, and the CPU fallback in wasm.

use crate::backend::Init;
use crate::backend::{
    conv_transpose2d_then_unfused, run_groups_gathered, Activation, Backend, BatchNormParams,
    Group, ParamSource, RunGroup, BN_EPS, BN_MOMENTUM,
};
use crate::epilogue::Epilogue;
use crate::grouped::{self, GradSink};
use crate::{fused, Error, Result};
use candle_core::{DType, Device, Tensor, Var, D};
use std::collections::HashMap;

/// candle on a device; `train` selects batch statistics in BatchNorm.
#[derive(Clone, Debug)]
pub struct CandleBackend {
    /// Where tensors live.
    pub device: Device,
    /// Training mode: BatchNorm uses batch statistics and updates its running statistics.
    pub train: bool,
    /// Where an RPGAN bucket's blocks hand their parameter gradients during a backward: with a
    /// sink, a tracked training forward on the CPU runs each bucket as one node
    /// ([`crate::grouped`]), and the caller merges the sink after every backward of what this
    /// backend computed ([`GradSink::merge_into`]). Without one, buckets gather and scatter
    /// and candle's backward gets every gradient.
    pub sink: Option<GradSink>,
}

impl CandleBackend {
    /// Inference on the CPU.
    pub fn cpu() -> Self {
        CandleBackend {
            device: Device::Cpu,
            train: false,
            sink: None,
        }
    }
}

fn channel_view(t: &Tensor) -> Result<Tensor> {
    Ok(t.reshape((1, t.elem_count(), 1, 1))?) // [1, C, 1, 1]
}

impl Backend for CandleBackend {
    type Tensor = Tensor;

    fn dims(&self, x: &Tensor) -> Vec<usize> {
        x.dims().to_vec()
    }

    fn tensor(&self, data: Vec<f32>, shape: &[usize]) -> Result<Tensor> {
        Ok(Tensor::from_vec(data, shape, &self.device)?)
    }

    fn reshape(&self, x: &Tensor, shape: &[usize]) -> Result<Tensor> {
        Ok(x.reshape(shape)?)
    }

    fn repeat_batch(&self, x: &Tensor, n: usize) -> Result<Tensor> {
        let mut dims = x.dims().to_vec();
        dims[0] = n;
        Ok(x.broadcast_as(dims)?.contiguous()?)
    }

    fn select_batch(&self, x: &Tensor, idx: &[usize]) -> Result<Tensor> {
        if idx.is_empty() {
            return Err(Error::Shape("cannot select zero rows".into()));
        }
        let n = idx.len();
        let idx: Vec<u32> = idx.iter().map(|&i| i as u32).collect();
        let idx = Tensor::from_vec(idx, n, &self.device)?;
        Ok(x.index_select(&idx, 0)?)
    }

    fn concat_batch(&self, parts: &[Tensor]) -> Result<Tensor> {
        Ok(Tensor::cat(parts, 0)?)
    }

    fn run_groups(
        &self,
        x: &Tensor,
        groups: &[Group<Tensor>],
        run: &RunGroup<'_, Tensor>,
    ) -> Result<Tensor> {
        match &self.sink {
            Some(sink) if self.train && self.device.is_cpu() && !groups.is_empty() => {
                grouped::run_groups(self, sink, x, groups, run)
            }
            _ => run_groups_gathered(self, x, groups, run),
        }
    }

    fn linear(&self, x: &Tensor, w: &Tensor, b: Option<&Tensor>) -> Result<Tensor> {
        let y = if w.track_op() {
            // `x w^T` would make `w^T` a node, whose gradient candle's backward adds into
            // `w`'s through a strided view, element by element (a constant-input RPGAN's 8
            // first blocks: 2M weights a step, 15% of its generator's forward + backward)
            w.matmul(&x.t()?)?.t()? // [N, O]
        } else {
            x.matmul(&w.t()?)? // [N, O]
        };
        add_bias(y, b)
    }

    fn conv2d(
        &self,
        x: &Tensor,
        w: &Tensor,
        b: Option<&Tensor>,
        stride: usize,
        padding: usize,
    ) -> Result<Tensor> {
        let y = crate::conv::conv2d(x, w, stride, padding)?; // [N, O, H', W']
        add_bias(y, b)
    }

    fn conv_transpose2d(
        &self,
        x: &Tensor,
        w: &Tensor,
        b: Option<&Tensor>,
        stride: usize,
        padding: usize,
    ) -> Result<Tensor> {
        let y = crate::conv::conv_transpose2d(x, w, stride, padding)?; // [N, O, H', W']
        add_bias(y, b)
    }

    fn conv_transpose2d_then(
        &self,
        x: &Tensor,
        w: &Tensor,
        b: Option<&Tensor>,
        (stride, padding): (usize, usize),
        bn: Option<&BatchNormParams<Tensor>>,
        act: Option<Activation>,
    ) -> Result<Tensor> {
        // a render on the CPU: the bias, BatchNorm and activation in col2im's pass
        let untracked = !(x.track_op() || w.track_op() || b.is_some_and(Tensor::track_op));
        let f32s = w.dtype() == DType::F32 && b.is_none_or(|b| b.dtype() == DType::F32);
        if self.train || !untracked || !f32s || !fused::applies(x, act) {
            let sp = (stride, padding);
            return conv_transpose2d_then_unfused(self, x, w, b, sp, bn, act);
        }
        let affine = match bn {
            Some(p) => {
                let (scale, shift) = eval_affine(p)?;
                Some((scale.to_vec1::<f32>()?, shift.to_vec1::<f32>()?))
            }
            None => None,
        };
        let epi = Epilogue {
            bias: b.map(|b| b.flatten_all()?.to_vec1::<f32>()).transpose()?,
            affine,
            act,
        };
        Ok(crate::conv::conv_transpose2d_then(
            x, w, stride, padding, &epi,
        )?) // [N, O, H', W']
    }

    fn batch_norm(&self, x: &Tensor, p: &BatchNormParams<Tensor>) -> Result<Tensor> {
        self.batch_norm_then(x, p, None)
    }

    fn batch_norm_act(
        &self,
        x: &Tensor,
        p: &BatchNormParams<Tensor>,
        act: Activation,
    ) -> Result<Tensor> {
        self.batch_norm_then(x, p, Some(act))
    }

    fn activation(&self, x: &Tensor, act: Activation) -> Result<Tensor> {
        if fused::applies(x, Some(act)) {
            return Ok(x.contiguous()?.apply_op1(fused::ActOp(act))?);
        }
        activation_ops(x, act)
    }

    fn add(&self, a: &Tensor, b: &Tensor) -> Result<Tensor> {
        Ok((a + b)?)
    }

    fn upsample2x(&self, x: &Tensor) -> Result<Tensor> {
        let (_, _, h, w) = x.dims4()?;
        Ok(x.upsample_nearest2d(2 * h, 2 * w)?)
    }

    fn upsample2x_bilinear(&self, x: &Tensor) -> Result<Tensor> {
        let (_, _, h, w) = x.dims4()?;
        Ok(x.upsample_bilinear2d(2 * h, 2 * w, false)?) // [N, C, 2H, 2W]
    }

    fn avg_pool2x(&self, x: &Tensor) -> Result<Tensor> {
        Ok(x.avg_pool2d(2)?)
    }

    fn sum_spatial(&self, x: &Tensor) -> Result<Tensor> {
        Ok(x.sum(D::Minus1)?.sum(D::Minus1)?) // [N, C]
    }

    fn unit_edit(&self, x: &Tensor, alpha: &[f32], value: &[f32], mask: &[f32]) -> Result<Tensor> {
        let (_, c, h, w) = x.dims4()?;
        check_len("alpha", alpha.len(), c)?;
        check_len("value", value.len(), c)?;
        check_len("mask", mask.len(), h * w)?;
        let a = Tensor::from_slice(alpha, (c, 1, 1), &self.device)?;
        let m = Tensor::from_slice(mask, (1, h, w), &self.device)?;
        let am = a.broadcast_mul(&m)?.unsqueeze(0)?; // [1, C, H, W]
        let k = Tensor::from_slice(value, (1, c, 1, 1), &self.device)?;
        let keep = am.affine(-1.0, 1.0)?; // 1 - a m
        Ok(x.broadcast_mul(&keep)?
            .broadcast_add(&am.broadcast_mul(&k)?)?) // [N, C, H, W]
    }

    fn mix(&self, x: &Tensor, donor: &[usize], channels: &[f32], mask: &[f32]) -> Result<Tensor> {
        let (n, c, h, w) = x.dims4()?;
        check_len("donor", donor.len(), n)?;
        check_len("channels", channels.len(), c)?;
        check_len("mask", mask.len(), h * w)?;
        if let Some(&d) = donor.iter().find(|&&d| d >= n) {
            return Err(Error::Shape(format!(
                "donor index {d} is outside the batch of {n}"
            )));
        }
        let other = self.select_batch(x, donor)?; // [N, C, H, W]
        let cm = Tensor::from_slice(channels, (c, 1, 1), &self.device)?;
        let m = cm
            .broadcast_mul(&Tensor::from_slice(mask, (1, h, w), &self.device)?)?
            .unsqueeze(0)?;
        let keep = m.affine(-1.0, 1.0)?;
        Ok((x.broadcast_mul(&keep)? + other.broadcast_mul(&m)?)?)
    }
}

impl CandleBackend {
    /// BatchNorm (batch statistics in training, running ones otherwise), then `act`: one
    /// fused op on the CPU ([`fused`]), candle's ops elsewhere.
    fn batch_norm_then(
        &self,
        x: &Tensor,
        p: &BatchNormParams<Tensor>,
        act: fused::Act,
    ) -> Result<Tensor> {
        if !fused::applies(x, act) {
            let y = batch_norm_ops(x, p, self.train)?; // [N, C, H, W]
            return match act {
                Some(a) => activation_ops(&y, a),
                None => Ok(y),
            };
        }
        let x = x.contiguous()?;
        if !self.train {
            let (scale, shift) = eval_affine(p)?;
            return Ok(x.apply_op3(&scale, &shift, fused::AffineAct(act))?); // [N, C, H, W]
        }
        let stats = fused::Stats::default();
        let op = fused::BatchNormTrain {
            act,
            eps: BN_EPS as f32,
            stats: stats.clone(),
        };
        let y = x.apply_op3(&p.weight, &p.bias, op)?; // [N, C, H, W]
        let (mean, var) = stats
            .lock()
            .ok()
            .and_then(|s| s.clone())
            .ok_or_else(|| Error::Shape("BatchNorm gave no statistics".into()))?;
        let count = (x.elem_count() / mean.len().max(1)) as f32;
        let unbiased: Vec<f32> = var
            .iter()
            .map(|v| v * count / (count - 1.0).max(1.0))
            .collect();
        let c = mean.len();
        update_running(&p.running_mean, &Tensor::from_vec(mean, c, &self.device)?)?;
        update_running(
            &p.running_var,
            &Tensor::from_vec(unbiased, c, &self.device)?,
        )?;
        Ok(y)
    }
}

/// A BatchNorm with running statistics as `x scale + shift`, `[C]` each.
fn eval_affine(p: &BatchNormParams<Tensor>) -> Result<(Tensor, Tensor)> {
    let inv = (&p.running_var + BN_EPS)?.sqrt()?.recip()?; // [C]
    let scale = (&p.weight * inv)?;
    let shift = (&p.bias - (&p.running_mean * &scale)?)?;
    Ok((scale, shift))
}

/// `y + b` with `b` per channel (dimension 1): fused on the CPU.
fn add_bias(y: Tensor, b: Option<&Tensor>) -> Result<Tensor> {
    let Some(b) = b else { return Ok(y) };
    if fused::applies(&y, None) && b.dtype() == DType::F32 {
        return Ok(y.contiguous()?.apply_op2(&b.contiguous()?, fused::Bias)?);
    }
    let mut shape = vec![1; y.rank()];
    shape[1] = b.elem_count();
    Ok(y.broadcast_add(&b.reshape(shape)?)?)
}

/// BatchNorm from candle's ops: the reference of the fused op, and the path off the CPU.
pub(crate) fn batch_norm_ops(
    x: &Tensor,
    p: &BatchNormParams<Tensor>,
    train: bool,
) -> Result<Tensor> {
    let (mean, var) = if train {
        let (n, _, h, w) = x.dims4()?;
        let mean = x.mean_keepdim(0)?.mean_keepdim(2)?.mean_keepdim(3)?; // [1, C, 1, 1]
        let centred = x.broadcast_sub(&mean)?;
        let var = centred
            .sqr()?
            .mean_keepdim(0)?
            .mean_keepdim(2)?
            .mean_keepdim(3)?; // biased
        let count = (n * h * w) as f64;
        update_running(&p.running_mean, &mean.detach().flatten_all()?)?;
        let unbiased = (var.detach().flatten_all()? * (count / (count - 1.0).max(1.0)))?;
        update_running(&p.running_var, &unbiased)?;
        (mean, var)
    } else {
        (
            channel_view(&p.running_mean)?,
            channel_view(&p.running_var)?,
        )
    };
    let inv = (var + BN_EPS)?.sqrt()?.recip()?; // [1, C, 1, 1]
    let scale = channel_view(&p.weight)?.broadcast_mul(&inv)?;
    let y = x.broadcast_sub(&mean)?.broadcast_mul(&scale)?; // [N, C, H, W]
    Ok(y.broadcast_add(&channel_view(&p.bias)?)?)
}

/// An activation from candle's ops.
pub(crate) fn activation_ops(x: &Tensor, act: Activation) -> Result<Tensor> {
    Ok(match act {
        Activation::Relu => x.relu()?,
        // relu(x)(1 - s) + s x: equal to the usual form, and its backward is 3-5x
        // cheaper in candle than minimum/maximum's
        Activation::LeakyRelu(s) => ((x.relu()? * (1.0 - s as f64))? + (x * s as f64)?)?,
        Activation::Tanh => x.tanh()?,
        Activation::Sigmoid => candle_core::Tensor::exp(&x.neg()?)?
            .affine(1.0, 1.0)?
            .recip()?,
    })
}

fn check_len(what: &str, got: usize, want: usize) -> Result<()> {
    if got != want {
        return Err(Error::Shape(format!(
            "{what} has {got} entries; the site needs {want}"
        )));
    }
    Ok(())
}

/// `running = (1 - momentum) running + momentum batch`, in place when `running` is a Var.
fn update_running(running: &Tensor, batch: &Tensor) -> Result<()> {
    if running.is_variable() {
        let new = ((running.detach() * (1.0 - BN_MOMENTUM))? + (batch * BN_MOMENTUM)?)?;
        Var::from_tensor(running)?.set(&new)?;
    }
    Ok(())
}

/// Parameters from named tensors already in memory (a loaded file); shapes are checked.
pub struct TensorSource<'a> {
    /// The tensors by name.
    pub tensors: &'a HashMap<String, Tensor>,
}

impl ParamSource<Tensor> for TensorSource<'_> {
    fn param(&mut self, name: &str, shape: &[usize], _init: Init) -> Result<Tensor> {
        let t = self
            .tensors
            .get(name)
            .ok_or_else(|| crate::FileError::MissingTensor(name.to_string()))?;
        if t.dims() != shape {
            return Err(crate::FileError::ShapeMismatch {
                name: name.into(),
                expected: shape.to_vec(),
                found: t.dims().to_vec(),
            }
            .into());
        }
        Ok(t.to_dtype(DType::F32)?)
    }
}

/// A model file loaded for the candle backend.
#[derive(Debug)]
pub struct CandleModel {
    /// The metadata.
    pub meta: crate::format::ModelMeta,
    /// The generator.
    pub generator: crate::generator::Generator<Tensor>,
    /// The discriminator, when the file carries one.
    pub discriminator: Option<crate::discriminator::Discriminator<Tensor>>,
}

/// Parses, checks and loads a model file's bytes onto `device`.
pub fn load_candle(bytes: &[u8], device: &Device) -> Result<CandleModel> {
    from_file(crate::format::ModelFile::parse(bytes)?, device)
}

/// The networks of a parsed (checked) model file on `device`.
pub fn from_file(file: crate::format::ModelFile<'_>, device: &Device) -> Result<CandleModel> {
    let mut tensors = HashMap::new();
    for (name, raw) in &file.tensors {
        tensors.insert(
            name.clone(),
            Tensor::from_vec(file.data(name)?, raw.shape.as_slice(), device)?,
        );
    }
    let mut src = TensorSource { tensors: &tensors };
    let generator = crate::generator::Generator::new(&file.meta.generator, &mut src)?;
    let discriminator = match &file.meta.discriminator {
        Some(d) => Some(crate::discriminator::Discriminator::new(d, &mut src)?),
        None => None,
    };
    Ok(CandleModel {
        meta: file.meta,
        generator,
        discriminator,
    })
}
