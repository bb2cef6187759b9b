//! Shape inference and checks of layer programs, and their text for model cards.

use super::{Op, MAX_CHANNELS, MAX_DEPTH, MAX_ELEMENTS, MAX_KERNEL, MAX_SIDE, MAX_STRIDE};
use crate::{Error, Result};

fn bad<T>(m: String) -> Result<T> {
    Err(Error::InvalidConfig(m))
}

fn check_conv(what: &str, out: usize, kernel: usize, stride: usize) -> Result<()> {
    if !(1..=MAX_CHANNELS).contains(&out) {
        return bad(format!(
            "{what} with {out} output channels (1..={MAX_CHANNELS})"
        ));
    }
    if !(1..=MAX_KERNEL).contains(&kernel) || !(1..=MAX_STRIDE).contains(&stride) {
        return bad(format!(
            "{what} with kernel {kernel} and stride {stride} (kernel 1..={MAX_KERNEL}, stride 1..={MAX_STRIDE})"
        ));
    }
    Ok(())
}

/// The output shape of `op` on an input of shape `s`, every field checked.
pub fn op_shape(op: &Op, s: [usize; 3], depth: usize) -> Result<[usize; 3]> {
    let [c, h, w] = s;
    let out = match op {
        Op::Dense { out, .. } => {
            if !(1..=MAX_ELEMENTS).contains(out) {
                return bad(format!("dense layer with {out} outputs"));
            }
            [*out, 1, 1]
        }
        Op::Reshape { shape } => {
            if shape.iter().product::<usize>() != c * h * w || shape.contains(&0) {
                return bad(format!(
                    "reshape of {s:?} into {shape:?}: element counts differ"
                ));
            }
            *shape
        }
        Op::Conv {
            out,
            kernel,
            stride,
            padding,
            ..
        } => {
            check_conv("conv", *out, *kernel, *stride)?;
            if h + 2 * padding < *kernel || w + 2 * padding < *kernel {
                return bad(format!(
                    "conv {kernel}x{kernel} with padding {padding} on a {h}x{w} input"
                ));
            }
            let side = |v: usize| (v + 2 * padding - kernel) / stride + 1;
            [*out, side(h), side(w)]
        }
        Op::ConvTranspose {
            out,
            kernel,
            stride,
            padding,
            ..
        } => {
            check_conv("conv_transpose", *out, *kernel, *stride)?;
            let full = |v: usize| (v - 1) * stride + kernel;
            if full(h) <= 2 * padding || full(w) <= 2 * padding {
                return bad(format!(
                    "conv_transpose {kernel}x{kernel} with padding {padding} on a {h}x{w} input leaves nothing"
                ));
            }
            [*out, full(h) - 2 * padding, full(w) - 2 * padding]
        }
        Op::BatchNorm | Op::Relu | Op::Tanh | Op::Sigmoid => s,
        Op::LeakyRelu { slope } => {
            if !slope.is_finite() {
                return bad(format!("LeakyReLU slope {slope}"));
            }
            s
        }
        Op::Upsample { .. } => [c, 2 * h, 2 * w],
        Op::Residual { main, shortcut } => {
            if depth >= MAX_DEPTH {
                return bad(format!("residual ops nest deeper than {MAX_DEPTH}"));
            }
            let a = chain_shape(main, s, depth + 1)?;
            let b = chain_shape(shortcut, s, depth + 1)?;
            if a != b {
                return bad(format!(
                    "a residual op's main chain gives {a:?} and its shortcut {b:?}"
                ));
            }
            a
        }
    };
    if out[1] > MAX_SIDE || out[2] > MAX_SIDE || out.iter().product::<usize>() > MAX_ELEMENTS {
        return bad(format!(
            "an op's output {out:?} is larger than this tool allows"
        ));
    }
    Ok(out)
}

/// The output shape of a chain of ops.
pub fn chain_shape(ops: &[Op], s: [usize; 3], depth: usize) -> Result<[usize; 3]> {
    ops.iter().try_fold(s, |s, op| op_shape(op, s, depth))
}

/// A short text of an op (`conv_transpose 4x4/2 pad 1 -> 256`), for model cards.
pub fn describe(op: &Op) -> String {
    let conv = |name: &str, out, k, s, p, b: bool| {
        let b = if b { "" } else { ", no bias" };
        format!("{name} {k}x{k}/{s} pad {p} -> {out}{b}")
    };
    match op {
        Op::Dense { out, bias } => {
            format!("dense -> {out}{}", if *bias { "" } else { ", no bias" })
        }
        Op::Reshape { shape } => format!("reshape {shape:?}"),
        Op::Conv {
            out,
            kernel,
            stride,
            padding,
            bias,
        } => conv("conv", out, kernel, stride, padding, *bias),
        Op::ConvTranspose {
            out,
            kernel,
            stride,
            padding,
            bias,
        } => conv("conv_transpose", out, kernel, stride, padding, *bias),
        Op::BatchNorm => "batch_norm".into(),
        Op::Relu => "relu".into(),
        Op::LeakyRelu { slope } => format!("leaky_relu {slope}"),
        Op::Tanh => "tanh".into(),
        Op::Sigmoid => "sigmoid".into(),
        Op::Upsample { mode } => format!("upsample 2x {mode:?}").to_lowercase(),
        Op::Residual { main, shortcut } => {
            let chain = |c: &[Op]| c.iter().map(describe).collect::<Vec<_>>().join(", ");
            let sc = if shortcut.is_empty() {
                "identity".to_string()
            } else {
                chain(shortcut)
            };
            format!("residual [{}] + [{sc}]", chain(main))
        }
    }
}

/// Number of ops, residual chains counted.
pub fn op_count(ops: &[Op]) -> usize {
    ops.iter()
        .map(|op| match op {
            Op::Residual { main, shortcut } => 1 + op_count(main) + op_count(shortcut),
            _ => 1,
        })
        .sum()
}

/// Every op's output shape of a chain, nested chains included (for buffer sizing).
pub fn all_shapes(ops: &[Op], s: [usize; 3]) -> Vec<[usize; 3]> {
    let mut out = Vec::new();
    let mut cur = s;
    for op in ops {
        if let Op::Residual { main, shortcut } = op {
            out.extend(all_shapes(main, cur));
            out.extend(all_shapes(shortcut, cur));
        }
        match op_shape(op, cur, 0) {
            Ok(next) => cur = next,
            Err(_) => return out,
        }
        out.push(cur);
    }
    out
}
