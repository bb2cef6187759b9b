//! Adam with its moments kept as named tensors so a checkpoint can hold them.
//!
//! On the CPU a variable's update is three in-place passes ([`Moment`], [`Update`]); as
//! tensor ops it was thirteen, each allocating a tensor of the variable's size (15% of an
//! RPGAN 4 x 40 training step, whose generator has 17M parameters). Both compute the same
//! f32 operations in the same order, so they agree bit for bit (a test checks it).

use candle_core::backprop::GradStore;
use candle_core::{CpuStorage, InplaceOp2, InplaceOp3, Layout, Result, Tensor, Var};
use rayon::prelude::*;
use std::collections::BTreeMap;

/// Adam (Kingma & Ba) without weight decay.
pub struct Adam {
    /// Learning rate.
    pub lr: f64,
    /// beta1.
    pub beta1: f64,
    /// beta2.
    pub beta2: f64,
    /// Epsilon.
    pub eps: f64,
    /// Steps taken.
    pub t: u64,
    vars: Vec<(String, Var)>,
    /// First and second moments by variable name.
    pub moments: BTreeMap<String, (Tensor, Tensor)>,
}

impl Adam {
    /// Adam over `vars`, moments zero.
    pub fn new(vars: Vec<(String, Var)>, lr: f64, beta1: f64, beta2: f64) -> Result<Self> {
        let mut moments = BTreeMap::new();
        for (n, v) in &vars {
            moments.insert(n.clone(), (v.zeros_like()?, v.zeros_like()?));
        }
        Ok(Adam {
            lr,
            beta1,
            beta2,
            eps: 1e-8,
            t: 0,
            vars,
            moments,
        })
    }

    /// One update from `grads` (variables without a gradient are left alone).
    pub fn step(&mut self, grads: &GradStore) -> Result<()> {
        self.t += 1;
        let t = self.t as i32;
        let c1 = 1.0 - self.beta1.powi(t);
        let c2 = 1.0 - self.beta2.powi(t);
        for (name, var) in &self.vars {
            // candle leaves a variable's gradient attached to the graph that made it (only
            // inner nodes' gradients are detached); a moment computed from it would then keep
            // that step's graph, and through the previous moment every step's: ~10 MB a step
            let Some(g) = grads.get(var).map(Tensor::detach) else {
                continue;
            };
            let Some((m, v)) = self.moments.get_mut(name) else {
                continue;
            };
            let step = Update {
                lr: self.lr,
                c1,
                c2,
                eps: self.eps,
            };
            if var.device().is_cpu()
                && [var.as_tensor(), &*m, &*v]
                    .iter()
                    .all(|t| t.is_contiguous())
            {
                let g = g.contiguous()?;
                m.inplace_op2(
                    &g,
                    &Moment {
                        beta: self.beta1,
                        square: false,
                    },
                )?;
                v.inplace_op2(
                    &g,
                    &Moment {
                        beta: self.beta2,
                        square: true,
                    },
                )?;
                var.inplace_op3(m, v, &step)?;
            } else {
                step_ops(var, m, v, &g, (self.beta1, self.beta2), &step)?;
            }
        }
        Ok(())
    }
}

/// One variable's update as tensor ops (any device): the moments are replaced.
fn step_ops(
    var: &Var,
    m: &mut Tensor,
    v: &mut Tensor,
    g: &Tensor,
    (beta1, beta2): (f64, f64),
    s: &Update,
) -> Result<()> {
    *m = ((&*m * beta1)? + (g * (1.0 - beta1))?)?;
    *v = ((&*v * beta2)? + (g.sqr()? * (1.0 - beta2))?)?;
    let mh = (&*m / s.c1)?;
    let vh = (&*v / s.c2)?;
    let upd = (mh / (vh.sqrt()? + s.eps)?)?;
    var.set(&(var.as_tensor() - (upd * s.lr)?)?)
}

/// `m = beta m + (1 - beta) g`, or `g^2` for the second moment, in place (CPU).
struct Moment {
    beta: f64,
    square: bool,
}

/// `p = p - lr (m / c1) / (sqrt(v / c2) + eps)` in place (CPU), with candle's order of
/// operations: a tensor divided by a scalar is multiplied by its inverse.
struct Update {
    lr: f64,
    c1: f64,
    c2: f64,
    eps: f64,
}

/// The arithmetic the in-place passes need, in f32 and f64.
trait Real:
    Copy
    + std::ops::Add<Output = Self>
    + std::ops::Sub<Output = Self>
    + std::ops::Mul<Output = Self>
    + std::ops::Div<Output = Self>
{
    /// `x` in this type, as candle converts a scalar operand.
    fn of(x: f64) -> Self;
    fn sqrt(self) -> Self;
}

impl Real for f32 {
    fn of(x: f64) -> Self {
        x as f32
    }
    fn sqrt(self) -> Self {
        f32::sqrt(self)
    }
}

impl Real for f64 {
    fn of(x: f64) -> Self {
        x
    }
    fn sqrt(self) -> Self {
        f64::sqrt(self)
    }
}

/// The elements of contiguous layouts, all of one length (a moment restored with another
/// shape than its variable's is refused, not half-applied).
fn ranges<const N: usize>(ls: [&Layout; N]) -> Result<[std::ops::Range<usize>; N]> {
    let mut out = std::array::from_fn(|_| 0..0);
    for (r, l) in out.iter_mut().zip(ls) {
        let Some((a, b)) = l.contiguous_offsets() else {
            candle_core::bail!("adam: a non-contiguous tensor");
        };
        *r = a..b;
    }
    if out.iter().any(|r| r.len() != out[0].len()) {
        candle_core::bail!("adam: a variable, its gradient and its moments differ in size");
    }
    Ok(out)
}

/// Elements per task where the passes run on rayon (more than one thread in its pool).
const CHUNK: usize = 32 * 1024;

fn moment<T: Real + Send + Sync>(m: &mut [T], g: &[T], beta: f64, square: bool) {
    let (b, a) = (T::of(beta), T::of(1.0 - beta));
    let pass = |m: &mut [T], g: &[T]| {
        if square {
            m.iter_mut()
                .zip(g)
                .for_each(|(m, &g)| *m = *m * b + g * g * a);
        } else {
            m.iter_mut().zip(g).for_each(|(m, &g)| *m = *m * b + g * a);
        }
    };
    if m.len() > CHUNK && rayon::current_num_threads() > 1 {
        m.par_chunks_mut(CHUNK)
            .zip(g.par_chunks(CHUNK))
            .for_each(|(m, g)| pass(m, g));
    } else {
        pass(m, g);
    }
}

fn update<T: Real + Send + Sync>(p: &mut [T], m: &[T], v: &[T], s: &Update) {
    let (i1, i2, eps, lr) = (
        T::of(1.0 / s.c1),
        T::of(1.0 / s.c2),
        T::of(s.eps),
        T::of(s.lr),
    );
    let pass = |p: &mut [T], m: &[T], v: &[T]| {
        for ((p, &m), &v) in p.iter_mut().zip(m).zip(v) {
            *p = *p - m * i1 / ((v * i2).sqrt() + eps) * lr;
        }
    };
    if p.len() > CHUNK && rayon::current_num_threads() > 1 {
        p.par_chunks_mut(CHUNK)
            .zip(m.par_chunks(CHUNK).zip(v.par_chunks(CHUNK)))
            .for_each(|(p, (m, v))| pass(p, m, v));
    } else {
        pass(p, m, v);
    }
}

impl InplaceOp2 for Moment {
    fn name(&self) -> &'static str {
        "ganscope-adam-moment"
    }

    fn cpu_fwd(
        &self,
        s1: &mut CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<()> {
        let [r1, r2] = ranges([l1, l2])?;
        match (s1, s2) {
            (CpuStorage::F32(m), CpuStorage::F32(g)) => {
                moment(&mut m[r1], &g[r2], self.beta, self.square)
            }
            (CpuStorage::F64(m), CpuStorage::F64(g)) => {
                moment(&mut m[r1], &g[r2], self.beta, self.square)
            }
            _ => candle_core::bail!("adam supports f32 and f64 of one dtype"),
        }
        Ok(())
    }
}

impl InplaceOp3 for Update {
    fn name(&self) -> &'static str {
        "ganscope-adam-update"
    }

    fn cpu_fwd(
        &self,
        s1: &mut CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<()> {
        let [r1, r2, r3] = ranges([l1, l2, l3])?;
        match (s1, s2, s3) {
            (CpuStorage::F32(p), CpuStorage::F32(m), CpuStorage::F32(v)) => {
                update(&mut p[r1], &m[r2], &v[r3], self)
            }
            (CpuStorage::F64(p), CpuStorage::F64(m), CpuStorage::F64(v)) => {
                update(&mut p[r1], &m[r2], &v[r3], self)
            }
            _ => candle_core::bail!("adam supports f32 and f64 of one dtype"),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    /// A variable's gradient from candle still carries the graph that made it (here `w`
    /// itself, through `w * w`); the moments must not, or each step's graph is kept alive
    /// by the next step's moments (memory grew ~10 MB a training step).
    #[test]
    fn moments_keep_no_graph() -> Result<()> {
        let w = Var::from_tensor(&Tensor::new(&[0.5f32, -1.0, 2.0], &Device::Cpu)?)?;
        let mut adam = Adam::new(vec![("w".into(), w.clone())], 0.1, 0.5, 0.999)?;
        for _ in 0..3 {
            let grads = (w.as_tensor() * w.as_tensor())?.sum_all()?.backward()?;
            assert!(grads.get(&w).is_some_and(|g| g.track_op()));
            adam.step(&grads)?;
        }
        let (m, v) = &adam.moments["w"];
        assert!(!m.track_op() && !v.track_op(), "a moment keeps a graph");
        Ok(())
    }

    /// Deterministic values in [-1, 1), every seventh zero.
    fn values(n: usize, seed: usize, dtype: candle_core::DType) -> Result<Tensor> {
        let v: Vec<f64> = (0..n)
            .map(|i| match (i + seed) % 7 {
                0 => 0.0,
                _ => ((i * 2_654_435_761 + seed * 97) % 2000) as f64 / 1000.0 - 1.0,
            })
            .collect();
        Tensor::from_vec(v, (n / 13, 13), &Device::Cpu)?.to_dtype(dtype)
    }

    /// A moment of another size than its variable (a foreign checkpoint's) is an error, and
    /// the variable is left as it was.
    #[test]
    fn a_moment_of_another_size_is_refused() -> Result<()> {
        let w = Var::from_tensor(&Tensor::new(&[0.5f32, -1.0, 2.0], &Device::Cpu)?)?;
        let mut adam = Adam::new(vec![("w".into(), w.clone())], 0.1, 0.5, 0.999)?;
        let m = Tensor::zeros(4, candle_core::DType::F32, &Device::Cpu)?;
        adam.moments.insert("w".into(), (m.clone(), m));
        let grads = (w.as_tensor() * w.as_tensor())?.sum_all()?.backward()?;
        let err = adam
            .step(&grads)
            .expect_err("a moment of 4 for a variable of 3");
        assert!(err.to_string().contains("differ in size"), "{err}");
        assert_eq!(w.to_vec1::<f32>()?, [0.5, -1.0, 2.0]);
        Ok(())
    }

    /// The in-place passes give the values the tensor ops give, step after step (at more
    /// than a rayon task's elements: where the pool has two threads, in parallel).
    #[test]
    fn in_place_passes_equal_the_tensor_ops() -> Result<()> {
        for dtype in [candle_core::DType::F32, candle_core::DType::F64] {
            let n = 13 * 3001; // [3001, 13], above CHUNK
            let p0 = values(n, 1, dtype)?;
            let (pa, pb) = (
                Var::from_tensor(&p0.copy()?)?,
                Var::from_tensor(&p0.copy()?)?,
            );
            let (ma, va) = (p0.zeros_like()?, p0.zeros_like()?);
            let (mut mb, mut vb) = (p0.zeros_like()?, p0.zeros_like()?);
            for t in 1..=4 {
                let g = (values(n, 10 + t, dtype)? * 1e-3)?;
                let s = Update {
                    lr: 2.5e-4,
                    c1: 1.0 - 0.5f64.powi(t as i32),
                    c2: 1.0 - 0.999f64.powi(t as i32),
                    eps: 1e-8,
                };
                ma.inplace_op2(
                    &g,
                    &Moment {
                        beta: 0.5,
                        square: false,
                    },
                )?;
                va.inplace_op2(
                    &g,
                    &Moment {
                        beta: 0.999,
                        square: true,
                    },
                )?;
                pa.inplace_op3(&ma, &va, &s)?;
                step_ops(&pb, &mut mb, &mut vb, &g, (0.5, 0.999), &s)?;
            }
            let f64s = |t: &Tensor| {
                t.flatten_all()?
                    .to_dtype(candle_core::DType::F64)?
                    .to_vec1::<f64>()
            };
            for (a, b) in [(pa.as_tensor(), pb.as_tensor()), (&ma, &mb), (&va, &vb)] {
                assert_eq!(f64s(a)?, f64s(b)?, "{dtype:?}");
            }
            assert_ne!(
                f64s(pa.as_tensor())?,
                f64s(&p0)?,
                "the variable did not move"
            );
        }
        Ok(())
    }
}
