//! The GEMM operations of [`WgpuBackend`]: linear, conv2d and conv_transpose2d, their shape
//! checks and workgroup counts (`crates/gpu/shaders/linear.wgsl`, `conv2d.wgsl` and
//! `conv_transpose2d.wgsl`, on `shaders/common/gemm.wgsl` and `common/conv.wgsl`).

use ganscope_model::{Error, Result};

use crate::backend::{nchw, shape_err, u, GpuTensor, WgpuBackend};
use crate::kernels::{tile_for, Kernel, Params, Tile};
use crate::params::{ConvParams, LinearParams};
use crate::recorder::Dispatch;

impl WgpuBackend {
    pub(crate) fn linear_op(
        &self,
        x: &GpuTensor,
        w: &GpuTensor,
        b: Option<&GpuTensor>,
    ) -> Result<GpuTensor> {
        let (n, i, o) = match (&x.shape[..], &w.shape[..]) {
            (&[n, i], &[o, wi]) if wi == i => (n, i, o),
            _ => return shape_err(format!("linear of {:?} by {:?}", x.shape, w.shape)),
        };
        check_bias(b, o, "linear")?;
        let y = self.out(&[n, o], "linear")?;
        let bias = b.map_or(&w.buf, |b| &b.buf);
        let tile = tile_for(o, n);
        let groups = self.groups(Kernel::Linear, tile, o, n, 1)?;
        let params = Params::Linear(LinearParams {
            n: u(n)?,
            i: u(i)?,
            o: u(o)?,
            has_bias: u32::from(b.is_some()),
        });
        self.rec.record(Dispatch {
            tile: Some(tile),
            ..Dispatch::new(params, &[&x.buf, &w.buf, bias], &y.buf, groups)
        });
        Ok(y)
    }

    pub(crate) fn conv2d_op(
        &self,
        x: &GpuTensor,
        w: &GpuTensor,
        b: Option<&GpuTensor>,
        stride: usize,
        padding: usize,
    ) -> Result<GpuTensor> {
        let [n, cin, h, wd] = nchw(x, "conv2d")?;
        let (cout, k) = match w.shape[..] {
            [o, i, k, k2] if i == cin && k == k2 && k > 0 => (o, k),
            _ => return shape_err(format!("conv2d of {:?} by {:?}", x.shape, w.shape)),
        };
        check_bias(b, cout, "conv2d")?;
        if stride == 0 || h + 2 * padding < k || wd + 2 * padding < k {
            return shape_err(format!("conv2d {k}x{k} stride {stride} on {h}x{wd}"));
        }
        let (ho, wo) = (
            (h + 2 * padding - k) / stride + 1,
            (wd + 2 * padding - k) / stride + 1,
        );
        let geo = ConvGeo::new([n, cin, h, wd], cout, [ho, wo], k, stride, padding);
        self.gemm_conv(Kernel::Conv2d, x, w, b, geo)
    }

    pub(crate) fn conv_transpose2d_op(
        &self,
        x: &GpuTensor,
        w: &GpuTensor,
        b: Option<&GpuTensor>,
        stride: usize,
        padding: usize,
    ) -> Result<GpuTensor> {
        let [n, cin, h, wd] = nchw(x, "conv_transpose2d")?;
        let (cout, k) = match w.shape[..] {
            [i, o, k, k2] if i == cin && k == k2 && k > 0 => (o, k),
            _ => {
                return shape_err(format!(
                    "conv_transpose2d of {:?} by {:?}",
                    x.shape, w.shape
                ))
            }
        };
        check_bias(b, cout, "conv_transpose2d")?;
        if stride == 0
            || h == 0
            || wd == 0
            || (h - 1) * stride + k <= 2 * padding
            || (wd - 1) * stride + k <= 2 * padding
        {
            return shape_err(format!(
                "conv_transpose2d {k}x{k} stride {stride} on {h}x{wd}"
            ));
        }
        let ho = (h - 1) * stride + k - 2 * padding;
        let wo = (wd - 1) * stride + k - 2 * padding;
        let geo = ConvGeo::new([n, cin, h, wd], cout, [ho, wo], k, stride, padding);
        self.gemm_conv(Kernel::ConvTranspose2d, x, w, b, geo)
    }

    /// Records `k`, conv2d or conv_transpose2d, of `geo`.
    fn gemm_conv(
        &self,
        k: Kernel,
        x: &GpuTensor,
        w: &GpuTensor,
        b: Option<&GpuTensor>,
        geo: ConvGeo,
    ) -> Result<GpuTensor> {
        let y = self.out(&[geo.n, geo.cout, geo.ho, geo.wo], k.file())?;
        let block = geo.params(b.is_some())?;
        let s = geo.stride;
        let (params, cols, z) = if k == Kernel::ConvTranspose2d {
            let cols = geo.n * geo.ho.div_ceil(s) * geo.wo.div_ceil(s);
            (Params::ConvTranspose2d(block), cols, s * s)
        } else {
            (Params::Conv2d(block), geo.n * geo.ho * geo.wo, 1)
        };
        let tile = tile_for(geo.cout, cols);
        let groups = self.groups(k, tile, geo.cout, cols, z)?;
        let bias = b.map_or(&w.buf, |b| &b.buf);
        self.rec.record(Dispatch {
            tile: Some(tile),
            ..Dispatch::new(params, &[&x.buf, &w.buf, bias], &y.buf, groups)
        });
        Ok(y)
    }
}

impl WgpuBackend {
    /// Workgroups for `rows` x `cols` outputs (times `z`) in tiles of 16 TM x 16 TN, or an
    /// error past the device's per-dimension limit.
    fn groups(
        &self,
        k: Kernel,
        tile: Tile,
        rows: usize,
        cols: usize,
        z: usize,
    ) -> Result<[u32; 3]> {
        let bm = 16 * tile.0 as usize;
        let bn = 16 * tile.1 as usize;
        let groups = [u(cols.div_ceil(bn))?, u(rows.div_ceil(bm))?, u(z)?];
        let max = self.rec.gpu.limits.max_compute_workgroups_per_dimension;
        if groups.iter().any(|&g| g > max) {
            let msg = format!(
                "{} needs {groups:?} workgroups; this GPU allows {max} per dimension: use a smaller batch",
                k.file()
            );
            return Err(Error::backend(crate::Error::Limit(msg)));
        }
        Ok(groups)
    }
}

#[derive(Clone, Copy)]
struct ConvGeo {
    n: usize,
    cin: usize,
    h: usize,
    w: usize,
    cout: usize,
    ho: usize,
    wo: usize,
    k: usize,
    stride: usize,
    pad: usize,
}

impl ConvGeo {
    /// `x` `[n, cin, h, w]` into `cout` channels of `ho` x `wo` by a `k` x `k` kernel.
    fn new(
        [n, cin, h, w]: [usize; 4],
        cout: usize,
        [ho, wo]: [usize; 2],
        k: usize,
        stride: usize,
        pad: usize,
    ) -> Self {
        ConvGeo {
            n,
            cin,
            h,
            w,
            cout,
            ho,
            wo,
            k,
            stride,
            pad,
        }
    }

    /// The kernels' parameter block.
    fn params(&self, has_bias: bool) -> Result<ConvParams> {
        Ok(ConvParams {
            n: u(self.n)?,
            cin: u(self.cin)?,
            h: u(self.h)?,
            w: u(self.w)?,
            cout: u(self.cout)?,
            ho: u(self.ho)?,
            wo: u(self.wo)?,
            k: u(self.k)?,
            stride: u(self.stride)?,
            pad: u(self.pad)?,
            has_bias: u32::from(has_bias),
        })
    }
}

fn check_bias(b: Option<&GpuTensor>, o: usize, op: &str) -> Result<()> {
    match b {
        Some(b) if b.shape != [o] => shape_err(format!("{op} bias {:?}; expected [{o}]", b.shape)),
        _ => Ok(()),
    }
}
