//! Test helpers: random models with seeded weights, recorded for writing to a file.
#![allow(dead_code, missing_docs)]

use candle_core::{Device, Tensor};
use ganscope_model::backend::{Init, ParamSource};
use ganscope_model::config::{DiscriminatorConfig, Family, GeneratorConfig, Rpgan};
use ganscope_model::discriminator::Discriminator;
use ganscope_model::format::{ModelMeta, NamedTensor};
use ganscope_model::generator::Generator;
use ganscope_model::sample::latents;

/// Seeded random parameters (BatchNorm variances kept positive), every tensor recorded.
pub struct RandomSource {
    pub seed: u64,
    pub recorded: Vec<NamedTensor>,
}

impl ParamSource<Tensor> for RandomSource {
    fn param(
        &mut self,
        name: &str,
        shape: &[usize],
        _init: Init,
    ) -> ganscope_model::Result<Tensor> {
        self.seed += 1;
        let n: usize = shape.iter().product();
        let scale = if name.contains("bn") { 0.3 } else { 0.2 };
        let mut v: Vec<f32> = latents(self.seed, n, 1)
            .into_iter()
            .map(|x| x * scale)
            .collect();
        if name.ends_with("running_var") || (name.contains("bn") && name.ends_with("weight")) {
            v.iter_mut().for_each(|x| *x = x.abs() + 0.5);
        }
        self.recorded
            .push((name.to_string(), shape.to_vec(), v.clone()));
        Ok(Tensor::from_vec(v, shape, &Device::Cpu)?)
    }
}

pub fn gen_config(
    family: Family,
    size: usize,
    channels: usize,
    rpgan: Option<Rpgan>,
) -> GeneratorConfig {
    let mut g = GeneratorConfig::new(family, size, channels, 4, rpgan).expect("config");
    g.latent_dim = 8;
    g
}

pub struct RandomModel {
    pub g: Generator<Tensor>,
    pub d: Discriminator<Tensor>,
    pub meta: ModelMeta,
    pub tensors: Vec<NamedTensor>,
}

pub fn random_model(
    family: Family,
    size: usize,
    channels: usize,
    rpgan: Option<Rpgan>,
    seed: u64,
) -> RandomModel {
    let gc = gen_config(family, size, channels, rpgan);
    let dc = DiscriminatorConfig::new(family, size, channels, 4).expect("d config");
    let mut src = RandomSource {
        seed,
        recorded: Vec::new(),
    };
    let g = Generator::new(&gc, &mut src).expect("generator");
    let d = Discriminator::new(&dc, &mut src).expect("discriminator");
    RandomModel {
        g,
        d,
        meta: ModelMeta::new(gc, Some(dc)),
        tensors: src.recorded,
    }
}

pub fn to_vec(t: &Tensor) -> Vec<f32> {
    t.flatten_all()
        .and_then(|t| t.to_vec1::<f32>())
        .expect("to_vec")
}

pub fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}
