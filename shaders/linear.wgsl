// Linear layer as a tiled GEMM: y[N, O] = x[N, I] w[O, I]^T + b[O].
// 64x64 output tiles (rows = output features, columns = samples), K tiles of 16 in workgroup
// memory, 4x4 outputs per invocation.
struct P { n: u32, i: u32, o: u32, has_bias: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read> wt: array<f32>;
@group(0) @binding(4) var<storage, read> bias: array<f32>;
@group(0) @binding(5) var<storage, read_write> y: array<f32>;

const BM: u32 = 64u;
const BN: u32 = 64u;
const BK: u32 = 16u;
var<workgroup> a_tile: array<f32, 1024>; // [BK][BM]
var<workgroup> b_tile: array<f32, 1024>; // [BK][BN]

@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) l: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
    let row0 = wg.y * BM;
    let col0 = wg.x * BN;
    var acc: array<f32, 16>;
    for (var k0 = 0u; k0 < p.i; k0 += BK) {
        for (var t = 0u; t < 4u; t++) {
            let e = li + t * 256u;
            let kq = e % BK;
            let m = e / BK;
            var v = 0.0;
            if (row0 + m < p.o && k0 + kq < p.i) { v = wt[(row0 + m) * p.i + k0 + kq]; }
            a_tile[kq * BM + m] = v;
            var u = 0.0;
            if (col0 + m < p.n && k0 + kq < p.i) { u = x[(col0 + m) * p.i + k0 + kq]; }
            b_tile[kq * BN + m] = u;
        }
        workgroupBarrier();
        for (var kq = 0u; kq < BK; kq++) {
            var a: array<f32, 4>;
            var b: array<f32, 4>;
            for (var r = 0u; r < 4u; r++) {
                a[r] = a_tile[kq * BM + l.y + 16u * r];
                b[r] = b_tile[kq * BN + l.x + 16u * r];
            }
            for (var r = 0u; r < 4u; r++) {
                for (var c = 0u; c < 4u; c++) {
                    acc[r * 4u + c] = fma(a[r], b[c], acc[r * 4u + c]);
                }
            }
        }
        workgroupBarrier();
    }
    for (var r = 0u; r < 4u; r++) {
        let m = row0 + l.y + 16u * r;
        if (m >= p.o) { continue; }
        var bm = 0.0;
        if (p.has_bias != 0u) { bm = bias[m]; }
        for (var c = 0u; c < 4u; c++) {
            let col = col0 + l.x + 16u * c;
            if (col < p.n) { y[col * p.o + m] = acc[r * 4u + c] + bm; }
        }
    }
}
