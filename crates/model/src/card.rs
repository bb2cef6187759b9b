//! The model card: what `ganscope info` prints of a model file, and what the page shows in
//! its model panel (the same function in both). Every string in it comes from the file, so
//! a page sets it as text, never as markup.

use crate::format::{ModelFile, ModelMeta};
use std::fmt::Write as _;

/// Parameter counts of a model file's two networks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ParamCounts {
    /// Values of the `g.*` tensors.
    pub generator: usize,
    /// Values of the `d.*` tensors.
    pub discriminator: usize,
}

impl ParamCounts {
    /// The counts of a parsed file's tensors.
    pub fn of(file: &ModelFile) -> Self {
        let count = |p: &str| -> usize {
            file.tensors
                .iter()
                .filter(|(n, _)| n.starts_with(p))
                .map(|(_, t)| t.shape.iter().product::<usize>())
                .sum()
        };
        ParamCounts {
            generator: count("g."),
            discriminator: count("d."),
        }
    }
}

/// The card of a model file named `name` (a path or a URL), `bytes` long.
pub fn card(meta: &ModelMeta, params: ParamCounts, name: &str, bytes: usize) -> String {
    let mut out = String::new();
    // writing to a String cannot fail
    let _ = write_card(&mut out, meta, params, name, bytes);
    out
}

fn write_card(
    out: &mut String,
    meta: &ModelMeta,
    params: ParamCounts,
    name: &str,
    bytes: usize,
) -> std::fmt::Result {
    let g = &meta.generator;
    writeln!(
        out,
        "model:      {name} (format {}, {bytes} bytes)",
        meta.format_version
    )?;
    let rpgan = if g.is_rpgan() { " RPGAN" } else { "" };
    writeln!(out, "family:     {}{rpgan}", g.family.name())?;
    let s = g.image_size;
    writeln!(out, "image:      {s}x{s}x{}", g.channels)?;
    let input = if g.constant_input {
        "learned constant Z"
    } else {
        "noise z"
    };
    writeln!(out, "input:      {input} of size {}", g.latent_dim)?;
    writeln!(out, "buckets:    {}", g.buckets.len())?;
    for (i, b) in g.buckets.iter().enumerate() {
        writeln!(
            out,
            "  bucket {}: {} blocks of {} layer(s)",
            i + 1,
            b.blocks,
            b.layers
        )?;
    }
    writeln!(out, "sites:")?;
    for s in &meta.sites {
        writeln!(
            out,
            "  {:<4} [{}, {}, {}] {}",
            s.name, s.shape[0], s.shape[1], s.shape[2], s.kind
        )?;
    }
    writeln!(
        out,
        "parameters: generator {}, discriminator {}",
        params.generator, params.discriminator
    )?;
    if let Some(d) = &meta.discriminator {
        let widths: Vec<String> = d.widths.iter().map(|w| w.to_string()).collect();
        writeln!(
            out,
            "discriminator: {} of widths {}, {}",
            d.family.name(),
            widths.join("-"),
            d.norm.label()
        )?;
    }
    if let Some(d) = &meta.dataset {
        writeln!(out, "dataset:    {} ({} images)", d.name, d.images)?;
    }
    if let Some(src) = &meta.source {
        writeln!(
            out,
            "imported:   {} ({}, layout {}{}; {} of its {} tensors)",
            src.file,
            src.container,
            src.layout,
            match &src.key {
                Some(k) => format!(", key {k}"),
                None => String::new(),
            },
            src.tensors[1],
            src.tensors[0]
        )?;
        writeln!(out, "sha-256:    {}", src.sha256)?;
    }
    if let Some(p) = &g.program {
        for (i, layer) in p.iter().enumerate() {
            let ops: Vec<String> = layer.iter().map(crate::program::describe).collect();
            writeln!(out, "  layer {}: {}", i + 1, ops.join(", "))?;
        }
    }
    if let Some(t) = &meta.training {
        writeln!(
            out,
            "training:   {} steps, {} loss, D {:.4} G {:.4}, {:.0} s on {}{}, {} (ganscope {})",
            t.steps,
            t.loss,
            t.d_loss,
            t.g_loss,
            t.seconds,
            t.device,
            if t.ema { ", EMA weights" } else { "" },
            t.date,
            t.tool_version
        )?;
        if let Some(ext) = t.options.get("extend").filter(|e| !e.is_null()) {
            writeln!(
                out,
                "extends:    {} ({} steps; blocks per bucket then {})",
                ext["from"].as_str().unwrap_or("?"),
                ext["old_steps"],
                ext["old_blocks"]
            )?;
        }
    }
    if let Some(a) = &meta.analysis {
        if let Some(lg) = a.get("learned_groups") {
            writeln!(
                out,
                "groups:     {} learned groups of site {} (interpretable training)",
                lg["k"],
                lg["site"].as_str().unwrap_or("?")
            )?;
        }
        if let Some(c) = a.get("compression") {
            writeln!(
                out,
                "compressed: buckets {} merged (they had {} blocks), seed {}",
                c["merged_buckets"], c["original_blocks"], c["seed"]
            )?;
        }
    }
    Ok(())
}
