//! An RPGAN bucket in a training forward on candle's CPU: one node of the graph, each group
//! of samples (one block) a graph of its own.
//!
//! Gathered ([`crate::backend::run_groups_gathered`]), every block's gather is a node whose
//! backward adds the block's rows into a zeroed gradient of the *whole* bucket input, and the
//! scatter and concatenation behind them cost the same again: a bucket of 8 blocks zeroed,
//! copied and added its input's gradient 8 times, and an RPGAN generator's forward + backward
//! took twice the standard generator's (BENCHMARKS.md, a training step). Here each group's
//! rows become a leaf of their own graph, the bucket's output is one node ([`Bucket`]) whose
//! backward runs each group's backward (on rayon's threads) from its rows of the output's
//! gradient, writes the input's gradient in one pass, and hands the blocks' parameter
//! gradients to a [`GradSink`], which the trainer merges into the outer backward's
//! [`GradStore`]. The values are the same as gathered: each group runs the same ops on the
//! same rows, and its output's gradient reaches it as the same numbers.

use crate::backend::{run_groups_gathered, Group, RunGroup};
use crate::candle_backend::CandleBackend;
use crate::Result;
use candle_core::backprop::GradStore;
use candle_core::{
    CpuStorage, CustomOp1, CustomOp2, DType, Layout, Shape, Storage, Tensor, TensorId, Var,
    WithDType,
};
use rayon::prelude::*;
use std::sync::{Arc, Mutex};

/// The parameter gradients that grouped buckets computed in a backward, to be added into
/// that backward's [`GradStore`] ([`GradSink::merge_into`]). A forward whose backend holds a
/// sink ([`CandleBackend::sink`]) must merge it after every backward, or the blocks'
/// parameters get no gradient from it.
#[derive(Clone, Debug, Default)]
pub struct GradSink(Arc<Mutex<Vec<(TensorId, Tensor)>>>);

impl GradSink {
    /// Adds every gradient handed in since the last merge into `grads` (to a gradient already
    /// there, as candle's backward sums a tensor's uses), and empties the sink. A variable's
    /// entries come in the order its uses ran their backward; the blocks of a bucket, whose
    /// backwards run in parallel, share no parameter, so no sum depends on the threads.
    pub fn merge_into(&self, grads: &mut GradStore) -> Result<()> {
        for (id, g) in self.take() {
            let sum = match grads.get_id(id) {
                Some(e) => (e + &g)?,
                None => g,
            };
            grads.insert_id(id, sum);
        }
        Ok(())
    }

    /// Drops what the sink holds (a backward that failed half-way).
    pub fn clear(&self) {
        drop(self.take());
    }

    fn take(&self) -> Vec<(TensorId, Tensor)> {
        match self.0.lock() {
            Ok(mut v) => std::mem::take(&mut *v),
            Err(p) => std::mem::take(&mut *p.into_inner()),
        }
    }

    fn extend(&self, items: Vec<(TensorId, Tensor)>) {
        match self.0.lock() {
            Ok(mut v) => v.extend(items),
            Err(p) => p.into_inner().extend(items),
        }
    }
}

/// One group's graph: its rows (a leaf variable where the bucket's input is tracked), its
/// output, the parameters to collect.
struct Sub {
    rows: Tensor,
    out: Tensor,
    samples: Vec<usize>,
    params: Vec<Tensor>,
}

/// [`crate::backend::Backend::run_groups`] on candle's CPU with a sink: as described above,
/// or gathered where nothing is tracked (nothing would need a gradient).
pub(crate) fn run_groups(
    be: &CandleBackend,
    sink: &GradSink,
    x: &Tensor,
    groups: &[Group<Tensor>],
    run: &RunGroup<'_, Tensor>,
) -> Result<Tensor> {
    let tracked = groups.iter().flat_map(|g| &g.params).find(|p| p.track_op());
    if tracked.is_none() && !x.track_op() {
        return run_groups_gathered(be, x, groups, run);
    }
    let xd = x.detach();
    let mut subs = Vec::with_capacity(groups.len());
    for (j, g) in groups.iter().enumerate() {
        let rows = gather(&xd, &g.samples, x.track_op())?; // [n_j, ...]
        let out = run(j, &rows)?; // [n_j, C, H, W]
        let params = g.params.iter().filter(|p| p.track_op()).cloned().collect();
        subs.push(Sub {
            rows,
            out,
            samples: g.samples.clone(),
            params,
        });
    }
    let n = x.dim(0)?;
    let mut dims = subs[0].out.dims().to_vec();
    dims[0] = n;
    let parts: Vec<Tensor> = subs.iter().map(|s| s.out.detach()).collect();
    let rows: Vec<&[usize]> = subs.iter().map(|s| s.samples.as_slice()).collect();
    let y = scatter_rows(&parts, &rows, n)?; // [N, C, H, W] in sample order
    let op = Bucket {
        subs,
        y: Mutex::new(Some(y)),
        shape: dims.into(),
        sink: sink.clone(),
    };
    // a tracked parameter makes the node tracked where the input is not (a latent input)
    let anchor = tracked.unwrap_or(x);
    Ok(x.apply_op2(anchor, op)?)
}

/// `f` on `t`'s elements (f32 or f64, on the CPU), in row-major order.
fn with_data<T: WithDType, R>(t: &Tensor, f: impl FnOnce(&[T]) -> R) -> candle_core::Result<R> {
    let t = t.contiguous()?;
    let (st, l) = t.storage_and_layout();
    let Storage::Cpu(cs) = &*st else {
        candle_core::bail!("a grouped bucket got a tensor on another device");
    };
    let Some((a, b)) = l.contiguous_offsets() else {
        candle_core::bail!("a grouped bucket got a tensor that is not contiguous");
    };
    Ok(f(&T::cpu_storage_as_slice(cs)?[a..b]))
}

/// Rows `samples` of `x [N, ...]` as a new tensor `[n, ...]`, a leaf variable if `leaf`.
fn gather(x: &Tensor, samples: &[usize], leaf: bool) -> candle_core::Result<Tensor> {
    fn go<T: WithDType>(x: &Tensor, samples: &[usize], leaf: bool) -> candle_core::Result<Tensor> {
        let row = x.elem_count() / x.dim(0)?.max(1);
        let data = with_data::<T, _>(x, |d| {
            let mut out = Vec::with_capacity(samples.len() * row);
            for &r in samples {
                out.extend_from_slice(&d[r * row..(r + 1) * row]);
            }
            out
        })?;
        let mut dims = x.dims().to_vec();
        dims[0] = samples.len();
        if leaf {
            Ok(Var::from_vec(data, dims, x.device())?.as_tensor().clone())
        } else {
            Tensor::from_vec(data, dims, x.device())
        }
    }
    match x.dtype() {
        DType::F32 => go::<f32>(x, samples, leaf),
        DType::F64 => go::<f64>(x, samples, leaf),
        d => candle_core::bail!("a grouped bucket supports f32 and f64, not {d:?}"),
    }
}

/// Rows of `parts[j]` placed at rows `rows[j]` of an `[n, ...]` tensor (every row once).
fn scatter_rows(parts: &[Tensor], rows: &[&[usize]], n: usize) -> candle_core::Result<CpuStorage> {
    fn go<T: WithDType>(
        parts: &[Tensor],
        rows: &[&[usize]],
        n: usize,
    ) -> candle_core::Result<Vec<T>> {
        let row = parts[0].elem_count() / parts[0].dim(0)?.max(1);
        let mut out = vec![T::zero(); n * row];
        for (p, idx) in parts.iter().zip(rows) {
            with_data::<T, _>(p, |d| {
                for (chunk, &r) in d.chunks_exact(row).zip(idx.iter()) {
                    out[r * row..(r + 1) * row].copy_from_slice(chunk);
                }
            })?;
        }
        Ok(out)
    }
    Ok(match parts[0].dtype() {
        DType::F32 => CpuStorage::F32(go(parts, rows, n)?),
        DType::F64 => CpuStorage::F64(go(parts, rows, n)?),
        d => candle_core::bail!("a grouped bucket supports f32 and f64, not {d:?}"),
    })
}

/// A tensor of CPU storage `s` (f32 or f64).
fn tensor_of(s: CpuStorage, shape: &Shape) -> candle_core::Result<Tensor> {
    let dev = candle_core::Device::Cpu;
    match s {
        CpuStorage::F32(v) => Tensor::from_vec(v, shape, &dev),
        CpuStorage::F64(v) => Tensor::from_vec(v, shape, &dev),
        _ => candle_core::bail!("a grouped bucket supports f32 and f64"),
    }
}

/// The bucket's node: its forward hands out the output the groups computed; its backward
/// runs theirs.
struct Bucket {
    subs: Vec<Sub>,
    y: Mutex<Option<CpuStorage>>,
    shape: Shape,
    sink: GradSink,
}

impl CustomOp2 for Bucket {
    fn name(&self) -> &'static str {
        "ganscope-bucket"
    }

    fn cpu_fwd(
        &self,
        _: &CpuStorage,
        _: &Layout,
        _: &CpuStorage,
        _: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let y = self.y.lock().ok().and_then(|mut y| y.take());
        match y {
            Some(y) => Ok((y, self.shape.clone())),
            None => candle_core::bail!("a bucket's node ran its forward twice"),
        }
    }

    fn bwd(
        &self,
        x: &Tensor,
        _anchor: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>)> {
        let grad = grad.detach();
        let results = self
            .subs
            .par_iter()
            .map(|s| {
                let idx: Vec<u32> = s.samples.iter().map(|&i| i as u32).collect();
                let idx = Tensor::from_vec(idx, s.samples.len(), grad.device())?;
                let g = grad.index_select(&idx, 0)?; // [n_j, C, H, W]
                let grads = s.out.apply_op1(Seed(g))?.backward()?;
                let dx = grads.get(&s.rows).cloned();
                let params: Vec<(TensorId, Tensor)> = s
                    .params
                    .iter()
                    .filter_map(|p| grads.get(p).map(|g| (p.id(), g.clone())))
                    .collect();
                Ok((dx, params))
            })
            .collect::<candle_core::Result<Vec<_>>>()?;
        let mut parts = Vec::with_capacity(results.len());
        for ((dx, params), s) in results.into_iter().zip(&self.subs) {
            self.sink.extend(params);
            parts.push((dx, s));
        }
        if !x.track_op() {
            return Ok((None, None));
        }
        let parts = parts
            .into_iter()
            .map(|(dx, s)| match dx {
                Some(dx) => Ok(dx),
                None => s.rows.zeros_like(),
            })
            .collect::<candle_core::Result<Vec<_>>>()?;
        let rows: Vec<&[usize]> = self.subs.iter().map(|s| s.samples.as_slice()).collect();
        let dx = scatter_rows(&parts, &rows, x.dim(0)?)?; // [N, ...]
        let dx = tensor_of(dx, x.shape())?;
        Ok((Some(dx), None))
    }
}

/// The root of a group's backward: a scalar whose gradient with respect to the group's
/// output is `self.0`, that output's rows of the bucket's output gradient. Only the
/// backward uses it; its value is zero.
struct Seed(Tensor);

impl CustomOp1 for Seed {
    fn name(&self) -> &'static str {
        "ganscope-bucket-seed"
    }

    fn cpu_fwd(&self, s: &CpuStorage, _: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        let zero = match s {
            CpuStorage::F32(_) => CpuStorage::F32(vec![0.0]),
            CpuStorage::F64(_) => CpuStorage::F64(vec![0.0]),
            _ => candle_core::bail!("a grouped bucket supports f32 and f64"),
        };
        Ok((zero, Shape::from(())))
    }

    fn bwd(
        &self,
        _arg: &Tensor,
        _res: &Tensor,
        _grad: &Tensor,
    ) -> candle_core::Result<Option<Tensor>> {
        Ok(Some(self.0.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::{Init, ParamSource};
    use crate::config::{Family, GeneratorConfig, Rpgan};
    use crate::generator::Generator;
    use crate::sample::{latents, random_paths};
    use candle_core::Device;

    /// Seeded variables of a dtype; BatchNorm's scales and variances kept positive.
    struct Vars(u64, Vec<(String, Tensor)>, DType);

    impl ParamSource<Tensor> for Vars {
        fn param(&mut self, name: &str, shape: &[usize], _: Init) -> Result<Tensor> {
            self.0 += 1;
            let n: usize = shape.iter().product();
            let mut v: Vec<f32> = latents(self.0, n, 1).iter().map(|x| x * 0.2).collect();
            if name.ends_with("running_var") || (name.contains("bn") && name.ends_with("weight")) {
                v.iter_mut().for_each(|x| *x = x.abs() + 0.5);
            }
            let t = Tensor::from_vec(v, shape, &Device::Cpu)?.to_dtype(self.2)?;
            let t = Var::from_tensor(&t)?.as_tensor().clone();
            self.1.push((name.to_string(), t.clone()));
            Ok(t)
        }
    }

    /// The values' bits (an f32 widened to f64 exactly, so equal bits are equal values).
    fn bits(t: &Tensor) -> Vec<u64> {
        let v = t
            .to_dtype(DType::F64)
            .and_then(|t| t.flatten_all()?.to_vec1::<f64>());
        v.expect("values").iter().map(|x| x.to_bits()).collect()
    }

    /// The grouped bucket gives the gathered forward's images and gradients, bit for bit,
    /// for every variable (the constant input's too), with a constant input and a latent one,
    /// in f32 and f64.
    #[test]
    fn grouped_buckets_equal_gathered_ones() -> Result<()> {
        for (constant, dtype) in [(true, DType::F32), (false, DType::F32), (true, DType::F64)] {
            let mut cfg = GeneratorConfig::new(Family::Dcgan, 32, 3, 4, Some(Rpgan::new(4, 3)))?;
            cfg.constant_input = constant;
            cfg.latent_dim = 8;
            let mut vars = Vars(0, Vec::new(), dtype);
            let g = Generator::new(&cfg, &mut vars)?;
            let n = 11;
            let paths = random_paths(5, n, &cfg.blocks());
            let z = Tensor::from_vec(latents(9, n, 8), (n, 8), &Device::Cpu)?.to_dtype(dtype)?;
            let r = Tensor::from_vec(
                latents(13, n * 3 * 32 * 32, 1),
                (n, 3, 32, 32),
                &Device::Cpu,
            )?
            .to_dtype(dtype)?;
            let run = |sink: Option<GradSink>| -> Result<(Tensor, GradStore)> {
                let be = CandleBackend {
                    device: Device::Cpu,
                    train: true,
                    sink: sink.clone(),
                };
                let y = g.forward(&be, Some(&z), &paths, &mut |_, x| Ok(x))?; // [n, 3, 32, 32]
                let mut grads = (&y * &r)?.sum_all()?.backward()?;
                if let Some(s) = sink {
                    s.merge_into(&mut grads)?;
                }
                Ok((y, grads))
            };
            let (ya, ga) = run(None)?;
            let (yb, gb) = run(Some(GradSink::default()))?;
            assert_eq!(bits(&ya), bits(&yb), "images, constant input {constant}");
            let mut compared = 0;
            for (_, v) in vars.1.iter() {
                match (ga.get(v), gb.get(v)) {
                    (Some(a), Some(b)) => {
                        assert_eq!(bits(a), bits(b), "a gradient, constant input {constant}");
                        compared += 1;
                    }
                    (None, None) => {}
                    (a, b) => panic!(
                        "a gradient only one way: {:?} {:?}",
                        a.is_some(),
                        b.is_some()
                    ),
                }
            }
            // every weight, bias and BatchNorm scale and shift (not the running statistics)
            let trainable = vars
                .1
                .iter()
                .filter(|(n, _)| !n.contains("running"))
                .count();
            assert_eq!(compared, trainable, "constant input {constant}");
        }
        Ok(())
    }
}
