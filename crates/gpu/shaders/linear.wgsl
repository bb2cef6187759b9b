// Linear layer as a tiled GEMM (after common/gemm.wgsl): y[N, O] = x[N, I] w[O, I]^T + b[O].
// Rows = output features, columns = samples, K = input features.
struct P { n: u32, i: u32, o: u32, has_bias: u32 }

fn out_index(m: u32, col: u32) -> u32 {
    return col * p.o + m;
}

@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) l: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
    let row0 = wg.y * BM;
    let col0 = wg.x * BN;
    var acc: array<f32, 16>;
    for (var k0 = 0u; k0 < p.i; k0 += BK) {
        load_weight_rows(li, row0, k0, p.o, p.i);
        // the samples' inputs: consecutive invocations read consecutive k
        for (var t = 0u; t < TN; t++) {
            let e = li + t * 256u;
            let kq = e % BK;
            let c = e / BK;
            var u = 0.0;
            if (col0 + c < p.n && k0 + kq < p.i) { u = x[(col0 + c) * p.i + k0 + kq]; }
            b_tile[kq * BN + c] = u;
        }
        multiply_tiles(&acc, l);
    }
    store_tile(acc, l, row0, col0, p.o, p.n);
}
