//! `ganscope export`: a run's checkpoint to one model file. Generator weights are the EMA
//! when the run kept one (unless asked otherwise); discriminator weights are stored
//! spectrally normalised (W / sigma with the run's current u), so inference needs no u.

use crate::checkpoint;
use crate::spectral::spectral_norm;
use crate::{Result, TrainError};
use candle_core::{Device, Var};
use ganscope_model::config::DNorm;
use ganscope_model::format::{
    expected_tensors, to_bytes, write_atomic, ModelFile, ModelMeta, NamedTensor, TrainingSummary,
};
use std::path::Path;

/// What to export.
#[derive(Clone, Copy, Debug)]
pub struct ExportOptions {
    /// f16 storage.
    pub f16: bool,
    /// Use the EMA generator weights when the run has them.
    pub ema: bool,
    /// Include the discriminator (`d.*`).
    pub discriminator: bool,
}

/// Days since 1970-01-01 to (year, month, day) (Howard Hinnant's civil-from-days).
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// Now as an RFC 3339 UTC string.
pub fn now_rfc3339() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let (y, m, d) = civil(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        s / 3600,
        s / 60 % 60,
        s % 60
    )
}

/// Builds the model file's bytes from a run folder.
pub fn export_bytes(run_dir: &Path, o: ExportOptions) -> Result<(ModelMeta, Vec<u8>)> {
    let (ck, tensors) = checkpoint::load(run_dir, &Device::Cpu)?;
    let gcfg = ck.options.generator()?;
    let dcfg = ck.options.discriminator()?;
    let spectral = dcfg.norm == DNorm::Spectral;
    let dcfg = o.discriminator.then_some(dcfg);
    let use_ema = o.ema && ck.options.ema.is_some();
    let get = |k: &str| {
        tensors
            .get(k)
            .ok_or_else(|| TrainError::Checkpoint(format!("the checkpoint lacks `{k}`")))
    };
    let mut out: Vec<NamedTensor> = Vec::new();
    for (name, shape) in expected_tensors(&gcfg, dcfg.as_ref())? {
        let ema_name = format!("ema.{name}");
        let t = if use_ema && tensors.contains_key(&ema_name) {
            get(&ema_name)?.clone()
        } else if spectral && name.starts_with("d.") && name.ends_with(".weight") {
            let u = Var::from_tensor(get(&format!("{name}_u"))?)?;
            spectral_norm(get(&name)?, &u, false)?
        } else {
            get(&name)?.clone()
        };
        out.push((name, shape, t.flatten_all()?.to_vec1::<f32>()?));
    }
    let mut meta = ModelMeta::new(gcfg, dcfg);
    meta.dataset = Some(ck.dataset.clone());
    meta.training = Some(TrainingSummary {
        steps: ck.step,
        loss: ck.options.loss.name().into(),
        d_loss: ck.last.d_loss,
        g_loss: ck.last.g_loss,
        seconds: ck.elapsed,
        date: now_rfc3339(),
        tool_version: env!("CARGO_PKG_VERSION").into(),
        device: ck.options.device.clone(),
        ema: use_ema,
        options: serde_json::to_value(&ck.options)?,
    });
    if let (Some(io), Some(labels)) = (&ck.options.interpret, &ck.groups) {
        meta.analysis = Some(serde_json::json!({
            "learned_groups": {
                "site": ganscope_model::generator::site_name(io.site),
                "k": io.groups,
                "labels": labels,
            }
        }));
    }
    let bytes = to_bytes(&meta, &out, o.f16)?;
    ModelFile::parse(&bytes)?; // what we write must pass our own reader
    Ok((meta, bytes))
}

/// Exports a run folder to `out`.
pub fn export(run_dir: &Path, out: &Path, o: ExportOptions) -> Result<ModelMeta> {
    let (meta, bytes) = export_bytes(run_dir, o)?;
    write_atomic(out, &bytes)?;
    Ok(meta)
}

#[cfg(test)]
mod tests {
    use super::civil;

    #[test]
    fn civil_dates() {
        assert_eq!(civil(0), (1970, 1, 1));
        assert_eq!(civil(19_723), (2024, 1, 1));
        assert_eq!(civil(11_016), (2000, 2, 29));
    }
}
