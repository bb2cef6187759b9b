// 2-D transposed convolution (w [I, O, K, K], PyTorch layout) as one implicit GEMM per output
// phase. Output row oy receives kernel rows ky = cy + s*t where cy = (oy + pad) mod s, from
// input row iy = (oy + pad - ky) / s; grouping outputs by phase (cy, cx) = workgroup_id.z
// makes the taps the same for every column of a tile, so no multiply is wasted on the zeros a
// scatter or zero-insertion kernel would touch. Rows = output channels, columns = (n, qy, qx)
// with oy = oy0 + s*qy, K = (i, ty, tx); 64x64 tiles, K tiles of 16, 4x4 outputs per invocation.
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

fn ceil_div(a: u32, b: u32) -> u32 {
    return (a + b - 1u) / b;
}

@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) l: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
    let s = p.stride;
    let cy = wg.z / s;
    let cx = wg.z % s;
    let oy0 = (cy + s - p.pad % s) % s;
    let ox0 = (cx + s - p.pad % s) % s;
    var qyn = 0u;
    if (p.ho > oy0) { qyn = ceil_div(p.ho - oy0, s); }
    var qxn = 0u;
    if (p.wo > ox0) { qxn = ceil_div(p.wo - ox0, s); }
    var tyn = 0u;
    if (p.k > cy) { tyn = ceil_div(p.k - cy, s); }
    var txn = 0u;
    if (p.k > cx) { txn = ceil_div(p.k - cx, s); }
    let dy = i32((oy0 + p.pad - cy) / s);
    let dx = i32((ox0 + p.pad - cx) / s);
    let taps = tyn * txn;
    let kdim = p.cin * taps;
    let qhw = qyn * qxn;
    let ncol = p.n * qhw;
    let row0 = wg.y * BM;
    let col0 = wg.x * BN;
    // the columns this invocation loads, decoded once: the input plane of its sample (-1 out
    // of range) and the input row/column of tap 0
    var b_base: array<i32, 8>;
    var b_y: array<i32, 8>;
    var b_x: array<i32, 8>;
    for (var t = 0u; t < TN; t++) {
        let col = col0 + (li + t * 256u) % BN;
        b_base[t] = -1;
        if (col < ncol) {
            let q = col % qhw;
            b_base[t] = i32((col / qhw) * p.cin * p.h * p.w);
            b_y[t] = i32(q / qxn) + dy;
            b_x[t] = i32(q % qxn) + dx;
        }
    }
    var acc: array<f32, 16>;
    for (var k0 = 0u; k0 < kdim; k0 += BK) {
        for (var t = 0u; t < TM; t++) {
            let e = li + t * 256u;
            // weights w[i, m, cy + s*ty, cx + s*tx]; consecutive invocations take consecutive m
            let m = e % BM;
            let ka = e / BM;
            var v = 0.0;
            if (row0 + m < p.cout && k0 + ka < kdim) {
                let i = (k0 + ka) / taps;
                let tr = (k0 + ka) % taps;
                let ky = cy + s * (tr / txn);
                let kx = cx + s * (tr % txn);
                v = wt[((i * p.cout + row0 + m) * p.k + ky) * p.k + kx];
            }
            a_tile[ka * BM + m] = v;
        }
        for (var t = 0u; t < TN; t++) {
            let e = li + t * 256u;
            // input taps: consecutive invocations take consecutive columns
            let c = e % BN;
            let kb = e / BN;
            let gk = k0 + kb;
            var u = 0.0;
            if (b_base[t] >= 0 && gk < kdim) {
                let i = gk / taps;
                let tr = gk - i * taps;
                let ty = tr / txn;
                let iy = b_y[t] - i32(ty);
                let ix = b_x[t] - i32(tr - ty * txn);
                if (iy >= 0 && iy < i32(p.h) && ix >= 0 && ix < i32(p.w)) {
                    u = x[u32(b_base[t]) + (i * p.h + u32(iy)) * p.w + u32(ix)];
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
                let n = col / qhw;
                let q = col % qhw;
                let oy = oy0 + s * (q / qxn);
                let ox = ox0 + s * (q % qxn);
                y[((n * p.cout + m) * p.ho + oy) * p.wo + ox] = acc[r * TN + c] + bm;
            }
        }
    }
}
