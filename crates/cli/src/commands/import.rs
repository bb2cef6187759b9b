//! `ganscope import`: a PyTorch checkpoint or safetensors state dict as a ganscope model
//! file ([`ganscope_import`]).

use anyhow::{Context, Result};
use clap::Args;
use ganscope_import::{import, layouts::LAYOUTS, to_bytes, Options};
use std::path::PathBuf;

/// The options of `import`.
#[derive(Args)]
pub struct ImportArgs {
    /// The checkpoint: a `torch.save` file (.pt, .pth, .tar, .ckpt) or a .safetensors state
    /// dict. Nothing in it is run.
    #[arg(required_unless_present = "list_layouts")]
    checkpoint: Option<PathBuf>,
    /// The layout of the keys (`auto` detects it and says why).
    #[arg(long, default_value = "auto")]
    layout: String,
    /// The key of the generator's state dict inside the checkpoint (found by itself among
    /// netG_state_dict, net_G, netG, generator, G, model_state_dict, state_dict, ...).
    #[arg(long)]
    key: Option<String>,
    /// What the keys cannot tell, as NAME=VALUE (repeatable).
    #[arg(long)]
    set: Vec<String>,
    /// The model file to write.
    #[arg(long, required_unless_present = "list_layouts")]
    out: Option<PathBuf>,
    /// Store tensors as f16 (half the size).
    #[arg(long)]
    f16: bool,
    /// List the layouts and exit.
    #[arg(long)]
    list_layouts: bool,
}

/// Runs `ganscope import`.
pub fn run(a: &ImportArgs) -> Result<()> {
    if a.list_layouts {
        let list: String = LAYOUTS
            .iter()
            .map(|l| format!("{:16} {}\n", l.name, l.about))
            .collect();
        return super::print_out(&list);
    }
    let (Some(checkpoint), Some(out_path)) = (&a.checkpoint, &a.out) else {
        anyhow::bail!("import needs a checkpoint and --out");
    };
    let bytes = super::read(checkpoint)?;
    let name = checkpoint.display().to_string();
    let opts = Options {
        layout: Some(a.layout.clone()),
        key: a.key.clone(),
        set: a.set.clone(),
    };
    let m = import(&bytes, &name, &opts).with_context(|| format!("importing {name}"))?;
    super::print_out(
        &m.report
            .iter()
            .map(|l| format!("{l}\n"))
            .collect::<String>(),
    )?;
    let out = to_bytes(&m, a.f16)?;
    ganscope_model::format::write_atomic(out_path, &out)?;
    let g = &m.meta.generator;
    let input = if g.constant_input {
        format!(
            "a learned {}-d constant (an RPGAN: paths are its latent)",
            g.latent_dim
        )
    } else {
        format!("a {}-d latent", g.latent_dim)
    };
    super::print_out(&format!(
        "wrote {} ({:.1} MB): {}x{}x{} images from {input}, {} sites ({})\n",
        out_path.display(),
        out.len() as f64 / 1e6,
        g.channels,
        g.image_size,
        g.image_size,
        m.meta.sites.len(),
        m.meta
            .sites
            .iter()
            .map(|s| format!("{} {}x{}x{}", s.name, s.shape[0], s.shape[1], s.shape[2]))
            .collect::<Vec<_>>()
            .join(", ")
    ))
}
