//! Spectral normalisation (Miyato et al. 2018): `W / sigma(W)` with sigma from one power
//! iteration per step on a stored vector u. candle has no such layer.

use crate::store::ParamStore;
use candle_core::{Tensor, Var};
use ganscope_model::backend::{Init, ParamSource};
use ganscope_model::config::{DNorm, DiscriminatorConfig};

fn normalize(x: &Tensor) -> candle_core::Result<Tensor> {
    let n = (x.sqr()?.sum_all()?.sqrt()? + 1e-12)?;
    x.broadcast_div(&n)
}

/// `w / sigma` where `sigma = u'^T W v` after one power iteration from `u`
/// (`v = normalize(W^T u)`, `u' = normalize(W v)`, both held constant for the gradient,
/// as in PyTorch). `update` stores u' back into `u`.
pub fn spectral_norm(w: &Tensor, u: &Var, update: bool) -> candle_core::Result<Tensor> {
    let out = w.dim(0)?;
    let wm = w.reshape((out, ()))?; // [O, K]
    let wd = wm.detach();
    let u0 = u.as_tensor().reshape((out, 1))?; // [O, 1]
    let v = normalize(&wd.t()?.matmul(&u0)?)?; // [K, 1]
    let u1 = normalize(&wd.matmul(&v)?)?; // [O, 1]
    if update {
        u.set(&u1.flatten_all()?)?;
    }
    let sigma = u1.t()?.matmul(&wm.matmul(&v)?)?; // [1, 1]
    w.broadcast_div(&sigma.reshape(())?)
}

/// A parameter source for the discriminator: with `spectral` (a [`DNorm::Spectral`]
/// discriminator) every `.weight` goes through [`spectral_norm`] with its vector `{name}_u`
/// (state in the same store); without it the store's variables as they are.
pub struct SpectralSource<'a> {
    /// The run's variables.
    pub store: &'a mut ParamStore,
    /// Advance the power iteration.
    pub update: bool,
    /// Normalise the weights (false for a BatchNorm discriminator).
    pub spectral: bool,
    /// Hand out every parameter detached: a generator step needs the gradient with respect to
    /// the discriminator's input only, and its convolutions then skip their weights' gradients.
    pub detached: bool,
}

impl<'a> SpectralSource<'a> {
    /// The source for discriminator `cfg`: spectral norm as its `norm` says.
    pub fn new(store: &'a mut ParamStore, cfg: &DiscriminatorConfig, update: bool) -> Self {
        SpectralSource {
            store,
            update,
            spectral: cfg.norm == DNorm::Spectral,
            detached: false,
        }
    }
}

impl ParamSource<Tensor> for SpectralSource<'_> {
    fn param(&mut self, name: &str, shape: &[usize], init: Init) -> ganscope_model::Result<Tensor> {
        let mut w = self.store.param(name, shape, init)?;
        if self.detached {
            w = w.detach();
        }
        if !self.spectral || !name.ends_with(".weight") {
            return Ok(w);
        }
        let uname = format!("{name}_u");
        self.store.state(&uname, &[shape[0]], Init::Normal(1.0))?;
        let u = self.store.vars.get(&uname).cloned().ok_or_else(|| {
            ganscope_model::Error::Shape(format!("missing spectral-norm vector {uname}"))
        })?;
        Ok(spectral_norm(&w, &u, self.update)?)
    }

    /// State (a BatchNorm discriminator's running statistics) is the store's, not trained.
    fn state(&mut self, name: &str, shape: &[usize], init: Init) -> ganscope_model::Result<Tensor> {
        self.store.state(name, shape, init)
    }
}
