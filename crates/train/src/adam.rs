//! Adam with its moments kept as named tensors so a checkpoint can hold them.

use candle_core::backprop::GradStore;
use candle_core::{Result, Tensor, Var};
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
            let g = &g;
            let Some((m, v)) = self.moments.get_mut(name) else {
                continue;
            };
            *m = ((&*m * self.beta1)? + (g * (1.0 - self.beta1))?)?;
            *v = ((&*v * self.beta2)? + (g.sqr()? * (1.0 - self.beta2))?)?;
            let mh = (&*m / c1)?;
            let vh = (&*v / c2)?;
            let upd = (mh / (vh.sqrt()? + self.eps)?)?;
            var.set(&(var.as_tensor() - (upd * self.lr)?)?)?;
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
}
