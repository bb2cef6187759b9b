// 2-D convolution as an implicit GEMM: y[n, o, oy, ox] = b[o] +
// sum_{i, ky, kx} w[o, i, ky, kx] x[n, i, oy*s - pad + ky, ox*s - pad + kx].
// Rows = output channels, columns = (n, oy, ox), K = (i, ky, kx); 64x64 output tiles, K tiles
// of 16 in workgroup memory (the input patch gathered on the fly), 4x4 outputs per invocation.
struct P {
    n: u32, cin: u32, h: u32, w: u32,
    cout: u32, ho: u32, wo: u32, k: u32,
    stride: u32, pad: u32, has_bias: u32,
}
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read> wt: array<f32>;
@group(0) @binding(4) var<storage, read> bias: array<f32>;
@group(0) @binding(5) var<storage, read_write> y: array<f32>;

// Outputs per invocation: TM rows x TN columns (TM * TN <= 16), set per pipeline: 4 x 4 in
// general, 1 x 8 or 2 x 8 for few output channels, 8 x 1 for few columns.
override TM: u32 = 4u;
override TN: u32 = 4u;
override BM: u32 = 16u * TM;
override BN: u32 = 16u * TN;
const BK: u32 = 16u;
var<workgroup> a_tile: array<f32, BK * BM>; // [BK][BM]
var<workgroup> b_tile: array<f32, BK * BN>; // [BK][BN]

@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) l: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
    let kk = p.k * p.k;
    let kdim = p.cin * kk;
    let hw = p.ho * p.wo;
    let ncol = p.n * hw;
    let row0 = wg.y * BM;
    let col0 = wg.x * BN;
    // the columns this invocation loads, decoded once: the input plane of its sample (-1 out
    // of range) and the input row/column of tap (0, 0)
    var b_base: array<i32, 8>;
    var b_y: array<i32, 8>;
    var b_x: array<i32, 8>;
    for (var t = 0u; t < TN; t++) {
        let col = col0 + (li + t * 256u) % BN;
        b_base[t] = -1;
        if (col < ncol) {
            let r = col % hw;
            b_base[t] = i32((col / hw) * p.cin * p.h * p.w);
            b_y[t] = i32((r / p.wo) * p.stride) - i32(p.pad);
            b_x[t] = i32((r % p.wo) * p.stride) - i32(p.pad);
        }
    }
    var acc: array<f32, 16>;
    for (var k0 = 0u; k0 < kdim; k0 += BK) {
        for (var t = 0u; t < TM; t++) {
            let e = li + t * 256u;
            // weights: consecutive invocations read consecutive k
            let kq = e % BK;
            let m = e / BK;
            var v = 0.0;
            if (row0 + m < p.cout && k0 + kq < kdim) { v = wt[(row0 + m) * kdim + k0 + kq]; }
            a_tile[kq * BM + m] = v;
        }
        for (var t = 0u; t < TN; t++) {
            let e = li + t * 256u;
            // input patch: consecutive invocations read consecutive columns
            let c = e % BN;
            let kb = e / BN;
            let gk = k0 + kb;
            var u = 0.0;
            if (b_base[t] >= 0 && gk < kdim) {
                let ci = gk / kk;
                let kr = gk - ci * kk;
                let ky = kr / p.k;
                let iy = b_y[t] + i32(ky);
                let ix = b_x[t] + i32(kr - ky * p.k);
                if (iy >= 0 && iy < i32(p.h) && ix >= 0 && ix < i32(p.w)) {
                    u = x[u32(b_base[t]) + (ci * p.h + u32(iy)) * p.w + u32(ix)];
                }
            }
            b_tile[kb * BN + c] = u;
        }
        workgroupBarrier();
        for (var kq = 0u; kq < BK; kq++) {
            var a: array<f32, 16>;
            var b: array<f32, 16>;
            for (var r = 0u; r < TM; r++) {
                a[r] = a_tile[kq * BM + l.y + 16u * r];
            }
            for (var c = 0u; c < TN; c++) {
                b[c] = b_tile[kq * BN + l.x + 16u * c];
            }
            for (var r = 0u; r < TM; r++) {
                for (var c = 0u; c < TN; c++) {
                    acc[r * TN + c] = fma(a[r], b[c], acc[r * TN + c]);
                }
            }
        }
        workgroupBarrier();
    }
    for (var r = 0u; r < TM; r++) {
        let m = row0 + l.y + 16u * r;
        if (m >= p.cout) { continue; }
        var bm = 0.0;
        if (p.has_bias != 0u) { bm = bias[m]; }
        for (var c = 0u; c < TN; c++) {
            let col = col0 + l.x + 16u * c;
            if (col < ncol) {
                y[((col / hw) * p.cout + m) * hw + col % hw] = acc[r * TN + c] + bm;
            }
        }
    }
}
