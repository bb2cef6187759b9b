//! Interpretable GAN training (Li et al., AAAI 2022): the filters of one site learn to form
//! `k` groups, each group generating one consistent image region across samples.
//!
//! Every `every` steps the partition Q of the site's filters is re-learned from the current
//! batch: each filter's profile is its activation map on every sample of the batch, each map
//! scaled to unit length (where it fires, not how strongly), concatenated; the profiles are
//! clustered by k-means, the hard-assignment limit of a Gaussian mixture with a shared
//! isotropic covariance (the poster's GMM over filters' feature maps, `arg max_q P(q | F^j)`).
//! This is the same profile and clustering as the lab's concept groups
//! ([`ganscope_analysis::groups`]), so the learned groups and the measured ones agree in kind.
//!
//! Between re-partitions the generator loss gets `weight * (pull + exclusive * push)`:
//! * `pull`: mean over samples and filters of `|f_j - m_q(j)|^2`, `f_j` the unit-length map of
//!   filter j in a sample and `m_c` the mean map of group c over the filters of the group and
//!   the samples of the batch: every filter of a group fires where its group fires, in every
//!   sample (the GMM's log-likelihood term for isotropic Gaussians around one mean per group);
//! * `push`: mean over pairs of different groups of `<m_c, m_c'>`: groups fire in different
//!   places (the exclusivity of the poster's `L_interp`).
//!
//! The energy-based realism term and its Langevin sampling are not implemented.

use crate::{Result, TrainError};
use candle_core::{Tensor, D};
use ganscope_analysis::kmeans::kmeans;
use serde::{Deserialize, Serialize};

/// Options of interpretable training.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InterpretOptions {
    /// The site (0-based bucket index) whose filters form groups.
    pub site: usize,
    /// Number of groups C.
    pub groups: usize,
    /// Weight of the group loss in the generator loss.
    pub weight: f64,
    /// Weight of the exclusivity term inside the group loss.
    pub exclusive: f64,
    /// Steps between re-partitions.
    pub every: u64,
}

/// Numerical floor of a map's length.
const EPS: f64 = 1e-6;

/// Unit-length maps: `[B, C, H, W] -> [B, C, H*W]`, each map scaled to length 1.
fn unit_maps(act: &Tensor) -> Result<Tensor> {
    let (b, c, h, w) = act.dims4()?;
    let f = act.reshape((b, c, h * w))?; // [B, C, HW]
    let norm = (f.sqr()?.sum_keepdim(D::Minus1)?.sqrt()? + EPS)?; // [B, C, 1]
    Ok(f.broadcast_div(&norm)?)
}

/// The partition of the filters of `act [B, C, H, W]` into `k` groups (label per filter).
pub fn partition(act: &Tensor, k: usize, seed: u64) -> Result<Vec<usize>> {
    let f = unit_maps(&act.detach())?; // [B, C, HW]
    let (b, c, hw) = f.dims3()?;
    if k == 0 || k > c {
        return Err(TrainError::Options(format!(
            "{k} groups of a site with {c} filters"
        )));
    }
    // profiles: [C, B * HW]
    let p = f
        .transpose(0, 1)?
        .contiguous()?
        .flatten_all()?
        .to_vec1::<f32>()?;
    let x: Vec<f64> = p.iter().map(|&v| f64::from(v)).collect();
    let cl = kmeans(&x, b * hw, k, 4, seed)?;
    Ok(cl.labels)
}

/// The group loss `pull + exclusive * push` of `act [B, C, H, W]` for the partition
/// `labels`, and its two terms as numbers.
pub fn group_loss(
    act: &Tensor,
    labels: &[usize],
    k: usize,
    exclusive: f64,
) -> Result<(Tensor, f32, f32)> {
    let f = unit_maps(act)?; // [B, C, HW]
    let (b, c, _) = f.dims3()?;
    if labels.len() != c || labels.iter().any(|&l| l >= k) {
        return Err(TrainError::Options(format!(
            "a partition of {} filters into {k} groups does not fit a site of {c} filters",
            labels.len()
        )));
    }
    let mut mean = vec![0f32; k * c]; // [K, C]: 1/|group| on the group's filters
    let mut onehot = vec![0f32; c * k]; // [C, K]
    for g in 0..k {
        let size = labels.iter().filter(|&&l| l == g).count().max(1) as f32;
        for (j, &l) in labels.iter().enumerate() {
            if l == g {
                mean[g * c + j] = 1.0 / size;
                onehot[j * k + g] = 1.0;
            }
        }
    }
    let dev = act.device();
    let mean = Tensor::from_vec(mean, (1, k, c), dev)?
        .broadcast_as((b, k, c))?
        .contiguous()?;
    let onehot = Tensor::from_vec(onehot, (c, k), dev)?;
    let centers = mean.matmul(&f)?.mean(0)?; // [K, HW]: each group's map over the batch
    let own = onehot.matmul(&centers)?; // [C, HW]: each filter's group map
    let pull = f.broadcast_sub(&own)?.sqr()?.sum(D::Minus1)?.mean_all()?; // scalar
    let gram = centers.matmul(&centers.t()?)?; // [K, K]
    let off = (gram * (1.0 - Tensor::eye(k, f.dtype(), dev)?)?)?; // zero diagonal
    let pairs = (k * k.saturating_sub(1)).max(1) as f64;
    let push = (off.sum_all()? / pairs)?;
    let (pv, qv) = (pull.to_scalar::<f32>()?, push.to_scalar::<f32>()?);
    let loss = (pull + (push * exclusive)?)?;
    Ok((loss, pv, qv))
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    /// Two filters fire top-left, two bottom-right, in every sample.
    fn blocks() -> Tensor {
        let mut v = vec![0f32; 3 * 4 * 16];
        for s in 0..3 {
            for ch in 0..4 {
                for p in 0..16 {
                    let top = p < 8;
                    let on = if ch % 2 == 0 { top } else { !top };
                    v[(s * 4 + ch) * 16 + p] = if on { 1.0 + (s + ch) as f32 * 0.1 } else { 0.0 };
                }
            }
        }
        Tensor::from_vec(v, (3, 4, 4, 4), &Device::Cpu).expect("tensor")
    }

    #[test]
    fn consistent_groups_cost_nothing_and_mixed_ones_do() {
        let a = blocks();
        let labels = partition(&a, 2, 0).expect("partition");
        assert_eq!(labels[0], labels[2]);
        assert_eq!(labels[1], labels[3]);
        assert_ne!(labels[0], labels[1]);
        let (_, pull, push) = group_loss(&a, &labels, 2, 1.0).expect("loss");
        assert!(pull < 1e-6 && push < 1e-6, "pull {pull} push {push}");
        let (_, pull, push) = group_loss(&a, &[0, 0, 1, 1], 2, 1.0).expect("loss");
        assert!(pull > 0.45 && push > 0.45, "pull {pull} push {push}");
        assert!(group_loss(&a, &[0, 0, 1], 2, 1.0).is_err());
        assert!(group_loss(&a, &[0, 0, 1, 2], 2, 1.0).is_err());
    }
}
