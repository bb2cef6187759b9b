// Linear layer as a tiled GEMM: y[N, O] = x[N, I] w[O, I]^T + b[O].
// 64x64 output tiles (rows = output features, columns = samples), K tiles of 16 in workgroup
// memory, 4x4 outputs per invocation.
struct P { n: u32, i: u32, o: u32, has_bias: u32 }
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
    let row0 = wg.y * BM;
    let col0 = wg.x * BN;
    var acc: array<f32, 16>;
    for (var k0 = 0u; k0 < p.i; k0 += BK) {
        for (var t = 0u; t < TM; t++) {
            let e = li + t * 256u;
            let kq = e % BK;
            let m = e / BK;
            var v = 0.0;
            if (row0 + m < p.o && k0 + kq < p.i) { v = wt[(row0 + m) * p.i + k0 + kq]; }
            a_tile[kq * BM + m] = v;
        }
        for (var t = 0u; t < TN; t++) {
            let e = li + t * 256u;
            let kq = e % BK;
            let c = e / BK;
            var u = 0.0;
            if (col0 + c < p.n && k0 + kq < p.i) { u = x[(col0 + c) * p.i + k0 + kq]; }
            b_tile[kq * BN + c] = u;
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
        if (m >= p.o) { continue; }
        var bm = 0.0;
        if (p.has_bias != 0u) { bm = bias[m]; }
        for (var c = 0u; c < TN; c++) {
            let col = col0 + l.x + 16u * c;
            if (col < p.n) { y[col * p.o + m] = acc[r * TN + c] + bm; }
        }
    }
}
