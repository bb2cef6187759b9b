//! Shape inference and checks of layer programs, and their text for model cards.

use super::{Op, MAX_CHANNELS, MAX_DEPTH, MAX_ELEMENTS, MAX_KERNEL, MAX_SIDE, MAX_STRIDE};
use crate::{Error, Result};

fn bad<T>(m: String) -> Result<T> {
    Err(Error::InvalidConfig(m))
}

/// The element count of a shape, `None` on overflow.
fn elements(s: &[usize]) -> Option<usize> {
    s.iter().try_fold(1usize, |a, &d| a.checked_mul(d))
}

fn check_conv(what: &str, out: usize, kernel: usize, stride: usize, padding: usize) -> Result<()> {
    if padding > MAX_KERNEL {
        return bad(format!(
            "{what} with padding {padding} (at most {MAX_KERNEL})"
        ));
    }
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
    if s.contains(&0) || elements(&s).is_none_or(|n| n > MAX_ELEMENTS) {
        return bad(format!(
            "an op's input {s:?} is empty or larger than this tool allows"
        ));
    }
    let out = match op {
        Op::Dense { out, .. } => {
            if !(1..=MAX_ELEMENTS).contains(out) {
                return bad(format!("dense layer with {out} outputs"));
            }
            [*out, 1, 1]
        }
        Op::Reshape { shape } => {
            if elements(shape) != Some(c * h * w) || shape.contains(&0) {
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
            check_conv("conv", *out, *kernel, *stride, *padding)?;
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
            check_conv("conv_transpose", *out, *kernel, *stride, *padding)?;
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
    if out[1] > MAX_SIDE
        || out[2] > MAX_SIDE
        || out[0] > MAX_ELEMENTS
        || elements(&out).is_none_or(|n| n > MAX_ELEMENTS)
    {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_shapes_are_errors_not_overflows() {
        let reshape = Op::Reshape {
            shape: [1 << 54, 1024, 1024],
        };
        assert!(op_shape(&reshape, [1024, 1, 1], 0).is_err());
        let conv = Op::ConvTranspose {
            out: 4,
            kernel: 4,
            stride: 2,
            padding: usize::MAX / 2,
            bias: false,
        };
        assert!(op_shape(&conv, [8, 4, 4], 0).is_err());
        assert!(op_shape(&Op::Relu, [8, 0, 4], 0).is_err());
        assert!(op_shape(&Op::Relu, [usize::MAX, 2, 2], 0).is_err());
        let res = Op::Residual {
            main: vec![Op::Upsample {
                mode: crate::program::Resize::Nearest,
            }],
            shortcut: vec![],
        };
        let msg = op_shape(&res, [2, 4, 4], 0)
            .expect_err("mismatch")
            .to_string();
        assert!(
            msg.contains("main chain gives [2, 8, 8] and its shortcut [2, 4, 4]"),
            "{msg}"
        );
        let mut deep = Op::Relu;
        for _ in 0..=MAX_DEPTH {
            deep = Op::Residual {
                main: vec![deep],
                shortcut: vec![],
            };
        }
        assert!(op_shape(&deep, [2, 4, 4], 0).is_err());
    }
}
