//! mimicry's SNGAN generators (`torch_mimicry/nets/sngan/sngan_{32,48,64,128}.py`; the
//! checkpoints of `netG_<step>_steps.pth` hold them under `model_state_dict`): `l1` to
//! `[ngf, bottom, bottom]`, `blockN` residual up-blocks (`GBlock`: `b1`, ReLU, bilinear 2x
//! with `align_corners=False`, `c1`, `b2`, ReLU, `c2`; shortcut: bilinear 2x then the 1x1
//! `c_sc`), then `bK`, ReLU, `cK` and tanh. Buckets: the input, each block, the output.

use ganscope_model::program::{Op, Resize};

use super::chain::mismatch;
use super::Signs;
use super::{assemble, dim, module, Built, Chain, Layout, Settings};
use crate::state::StateDict;
use crate::Result;

/// The layout.
pub const SNGAN: Layout = Layout {
    name: "mimicry-sngan",
    about: "mimicry's SNGAN ResNet generators, 32 to 128 px (l1.*, blockN.{b1,c1,b2,c2,c_sc}.*, bK, cK)",
    signs: Signs::Keys(&["l1.weight", "block2.c1.weight"]),
    found: "l1.*, blockN.*: residual up-blocks with bilinear up-sampling",
    build,
};

fn build(sd: &StateDict, _: &mut Settings) -> Result<Built> {
    let name = SNGAN.name;
    let up = Op::Upsample {
        mode: Resize::Bilinear,
    };
    let mut inp = Chain::new();
    let f = inp.dense(name, sd, "l1")?;
    let ngf = dim(sd, module(sd, "block2.b1").get("running_mean"), 0);
    let s = ((f / ngf.max(1)) as f64).sqrt().round() as usize;
    if s * s * ngf != f {
        return Err(mismatch(
            name,
            format!("l1 gives {f} features, not {ngf} square maps"),
        ));
    }
    inp.op(Op::Reshape { shape: [ngf, s, s] });
    let latent = sd.params["l1.weight"].shape[1];
    let mut buckets = vec![vec![inp]];
    let mut k = 2;
    while sd.params.contains_key(&format!("block{k}.c1.weight")) {
        let p = |s: &str| format!("block{k}.{s}");
        let mut main = Chain::new();
        main.bn(name, sd, &p("b1"))?;
        main.op(Op::Relu).op(up.clone());
        main.conv(name, sd, &p("c1"), false, 1, 1)?;
        main.bn(name, sd, &p("b2"))?;
        main.op(Op::Relu);
        main.conv(name, sd, &p("c2"), false, 1, 1)?;
        let mut short = Chain::new();
        short.op(up.clone());
        short.conv(name, sd, &p("c_sc"), false, 1, 0)?;
        let mut c = Chain::new();
        c.residual(main, short);
        buckets.push(vec![c]);
        k += 1;
    }
    let mut out = Chain::new();
    out.bn(name, sd, &format!("b{k}"))?;
    out.op(Op::Relu);
    out.conv(name, sd, &format!("c{k}"), false, 1, 1)?;
    out.op(Op::Tanh);
    buckets.push(vec![out]);
    assemble(name, latent, None, buckets)
}
