//! The GEMM operations of [`WgpuBackend`]: linear, conv2d and conv_transpose2d, their shape
//! checks and workgroup counts (`shaders/linear.wgsl`, `conv2d.wgsl`, `conv_transpose2d.wgsl`).

use ganscope_model::{Error, Result};

use crate::backend::{nchw, shape_err, u, GpuTensor, WgpuBackend};
use crate::kernels::{tile_for, Kernel, Tile};

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
        self.rec.dispatch_tiled(
            Kernel::Linear,
            tile,
            &[u(n)?, u(i)?, u(o)?, u32::from(b.is_some())],
            &[&x.buf, &w.buf, bias],
            &y.buf,
            groups,
        );
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
        let geo = ConvGeo {
            n,
            cin,
            h,
            w: wd,
            cout,
            ho,
            wo,
            k,
            stride,
            pad: padding,
        };
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
        let geo = ConvGeo {
            n,
            cin,
            h,
            w: wd,
            cout,
            ho,
            wo,
            k,
            stride,
            pad: padding,
        };
        self.gemm_conv(Kernel::ConvTranspose2d, x, w, b, geo)
    }

    fn gemm_conv(
        &self,
        k: Kernel,
        x: &GpuTensor,
        w: &GpuTensor,
        b: Option<&GpuTensor>,
        geo: ConvGeo,
    ) -> Result<GpuTensor> {
        let y = self.out(&[geo.n, geo.cout, geo.ho, geo.wo], k.file())?;
        let params = [
            u(geo.n)?,
            u(geo.cin)?,
            u(geo.h)?,
            u(geo.w)?,
            u(geo.cout)?,
            u(geo.ho)?,
            u(geo.wo)?,
            u(geo.k)?,
            u(geo.stride)?,
            u(geo.pad)?,
            u32::from(b.is_some()),
        ];
        let s = geo.stride;
        let (cols, z) = if k == Kernel::ConvTranspose2d {
            (geo.n * geo.ho.div_ceil(s) * geo.wo.div_ceil(s), s * s)
        } else {
            (geo.n * geo.ho * geo.wo, 1)
        };
        let tile = tile_for(geo.cout, cols);
        let groups = self.groups(k, tile, geo.cout, cols, z)?;
        let bias = b.map_or(&w.buf, |b| &b.buf);
        self.rec
            .dispatch_tiled(k, tile, &params, &[&x.buf, &w.buf, bias], &y.buf, groups);
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
            return Err(Error::Backend(format!(
                "{} needs {groups:?} workgroups; this GPU allows {max} per dimension: use a smaller batch",
                k.file()
            )));
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

fn check_bias(b: Option<&GpuTensor>, o: usize, op: &str) -> Result<()> {
    match b {
        Some(b) if b.shape != [o] => shape_err(format!("{op} bias {:?}; expected [{o}]", b.shape)),
        _ => Ok(()),
    }
}
