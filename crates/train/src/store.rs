//! Named training variables with seeded initialisation, and their checkpoint files.

use crate::{Result, TrainError};
use candle_core::{Device, Tensor, Var};
use ganscope_model::backend::{Init, ParamSource};
use ganscope_model::sample::latents;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::BTreeMap;

/// A stable 64-bit hash of a name (FNV-1a), used to seed each parameter's initial values
/// so they do not depend on creation order.
pub fn name_hash(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

/// Every variable of a run by name; `trainable` marks those the optimiser updates
/// (BatchNorm running statistics and spectral-norm vectors are state, not trained).
pub struct ParamStore {
    /// Variables by name.
    pub vars: BTreeMap<String, Var>,
    /// Names the optimiser updates.
    pub trainable: Vec<String>,
    /// Parameters created frozen (incremental learning's old blocks), in creation order:
    /// they keep their values, are handed out detached (no gradient) and, for BatchNorm
    /// running statistics, are never updated.
    pub frozen: Vec<String>,
    /// Name prefixes of parameters to create frozen (see [`ParamStore::freeze`]).
    freeze: Vec<String>,
    seed: u64,
    device: Device,
}

fn init_values(init: Init, n: usize, seed: u64) -> Vec<f32> {
    match init {
        Init::Const(c) => vec![c; n],
        Init::Normal(std) => latents(seed, n, 1).into_iter().map(|v| v * std).collect(),
        Init::Uniform(b) => {
            let mut rng = StdRng::seed_from_u64(seed);
            (0..n).map(|_| rng.random_range(-b..=b)).collect()
        }
    }
}

impl ParamStore {
    /// An empty store whose initial values derive from `seed`.
    pub fn new(seed: u64, device: &Device) -> Self {
        ParamStore {
            vars: BTreeMap::new(),
            trainable: Vec::new(),
            frozen: Vec::new(),
            freeze: Vec::new(),
            seed,
            device: device.clone(),
        }
    }

    /// The device of every variable.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Parameters and state created from now on whose names start with one of `prefixes`
    /// are frozen.
    pub fn freeze(&mut self, prefixes: Vec<String>) {
        self.freeze = prefixes;
    }

    fn get_or_create(
        &mut self,
        name: &str,
        shape: &[usize],
        init: Init,
        train: bool,
    ) -> ganscope_model::Result<Tensor> {
        let frozen = self.freeze.iter().any(|p| name.starts_with(p.as_str()));
        if let Some(v) = self.vars.get(name) {
            if v.dims() != shape {
                return Err(ganscope_model::Error::Shape(format!(
                    "variable {name} has shape {:?}, asked for {shape:?}",
                    v.dims()
                )));
            }
            return Ok(if frozen {
                v.as_tensor().detach()
            } else {
                v.as_tensor().clone()
            });
        }
        let n = shape.iter().product();
        let vals = init_values(init, n, self.seed ^ name_hash(name));
        let var = Var::from_tensor(&Tensor::from_vec(vals, shape, &self.device)?)?;
        if frozen {
            self.frozen.push(name.to_string());
        } else if train {
            self.trainable.push(name.to_string());
        }
        // a frozen tensor shares the variable's storage, so `restore` still reaches it
        let t = if frozen {
            var.as_tensor().detach()
        } else {
            var.as_tensor().clone()
        };
        self.vars.insert(name.to_string(), var);
        Ok(t)
    }

    /// The trainable variables whose names start with `prefix`.
    pub fn trainable_with(&self, prefix: &str) -> Vec<(String, Var)> {
        self.trainable
            .iter()
            .filter(|n| n.starts_with(prefix))
            .filter_map(|n| self.vars.get(n).map(|v| (n.clone(), v.clone())))
            .collect()
    }

    /// All variables as plain tensors (a snapshot for a checkpoint).
    pub fn snapshot(&self) -> Vec<(String, Tensor)> {
        self.vars
            .iter()
            .map(|(n, v)| (n.clone(), v.as_tensor().detach()))
            .collect()
    }

    /// Overwrites the variables that `tensors` holds (by name; shapes must match) and
    /// returns how many; for generator weights an `ema.` copy is preferred, as export does.
    pub fn load_matching(&mut self, tensors: &BTreeMap<String, Tensor>) -> Result<usize> {
        let mut n = 0;
        for (name, var) in &self.vars {
            let t = tensors
                .get(&format!("ema.{name}"))
                .or_else(|| tensors.get(name));
            if let Some(t) = t {
                if t.dims() != var.dims() {
                    return Err(TrainError::Checkpoint(format!(
                        "`{name}` has shape {:?} in the extended run, {:?} here",
                        t.dims(),
                        var.dims()
                    )));
                }
                var.set(t)?;
                n += 1;
            }
        }
        Ok(n)
    }

    /// Overwrites existing variables with `tensors` (names and shapes must match).
    pub fn restore(&mut self, tensors: &BTreeMap<String, Tensor>) -> Result<()> {
        for (name, var) in &self.vars {
            let t = tensors
                .get(name)
                .ok_or_else(|| TrainError::Checkpoint(format!("the checkpoint lacks `{name}`")))?;
            var.set(t)?;
        }
        Ok(())
    }
}

impl ParamSource<Tensor> for ParamStore {
    fn param(&mut self, name: &str, shape: &[usize], init: Init) -> ganscope_model::Result<Tensor> {
        self.get_or_create(name, shape, init, true)
    }
    fn state(&mut self, name: &str, shape: &[usize], init: Init) -> ganscope_model::Result<Tensor> {
        self.get_or_create(name, shape, init, false)
    }
}
