// 2-D transposed convolution (w [I, O, K, K], PyTorch layout) as one implicit GEMM per output
// phase (after common/gemm.wgsl and common/conv.wgsl). Output row oy receives kernel rows
// ky = cy + s*t where cy = (oy + pad) mod s, from input row iy = (oy + pad - ky) / s; grouping
// outputs by phase (cy, cx) = workgroup_id.z makes the taps the same for every column of a
// tile, so no multiply is wasted on the zeros a scatter or zero-insertion kernel would touch.
// Rows = output channels, columns = (n, qy, qx) with oy = oy0 + s*qy, K = (i, ty, tx).

// The output phase (cy, cx) of workgroup z: its first output row and column
// (oy0, ox0), its columns per sample and per output row (qhw, qxn), its taps per input
// channel and per kernel row (taps, txn), and the offset of the input rows and columns;
// `ph` holds this workgroup's for column_origin, tap and out_index.
struct Phase {
    cy: u32, cx: u32, oy0: u32, ox0: u32,
    qhw: u32, qxn: u32, taps: u32, txn: u32,
    dy: i32, dx: i32,
}
var<private> ph: Phase;

fn ceil_div(a: u32, b: u32) -> u32 {
    return (a + b - 1u) / b;
}

fn column_origin(q: u32) -> vec2<i32> {
    return vec2<i32>(i32(q / ph.qxn) + ph.dy, i32(q % ph.qxn) + ph.dx);
}

fn tap(gk: u32) -> Tap {
    let i = gk / ph.taps;
    let tr = gk - i * ph.taps;
    let ty = tr / ph.txn;
    return Tap(i, -i32(ty), -i32(tr - ty * ph.txn));
}

fn out_index(m: u32, col: u32) -> u32 {
    let q = col % ph.qhw;
    let oy = ph.oy0 + p.stride * (q / ph.qxn);
    let ox = ph.ox0 + p.stride * (q % ph.qxn);
    return (((col / ph.qhw) * p.cout + m) * p.ho + oy) * p.wo + ox;
}

fn phase_of(z: u32) -> Phase {
    let s = p.stride;
    let cy = z / s;
    let cx = z % s;
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
    return Phase(cy, cx, oy0, ox0, qyn * qxn, qxn, tyn * txn, txn, dy, dx);
}

@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) l: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
    // the K loop (with its barriers) is bounded by this let, uniform, not by the private
    // copy the helpers read (a private variable's value is not known to be uniform)
    let phase = phase_of(wg.z);
    ph = phase;
    let s = p.stride;
    let kdim = p.cin * phase.taps;
    let ncol = p.n * phase.qhw;
    let row0 = wg.y * BM;
    let col0 = wg.x * BN;
    decode_columns(li, col0, ncol, phase.qhw);
    var acc: array<f32, 16>;
    for (var k0 = 0u; k0 < kdim; k0 += BK) {
        // weights w[i, m, cy + s*ty, cx + s*tx]; consecutive invocations take consecutive m
        for (var t = 0u; t < TM; t++) {
            let e = li + t * 256u;
            let m = e % BM;
            let ka = e / BM;
            var v = 0.0;
            if (row0 + m < p.cout && k0 + ka < kdim) {
                let i = (k0 + ka) / phase.taps;
                let tr = (k0 + ka) % phase.taps;
                let ky = phase.cy + s * (tr / phase.txn);
                let kx = phase.cx + s * (tr % phase.txn);
                v = wt[((i * p.cout + row0 + m) * p.k + ky) * p.k + kx];
            }
            a_tile[ka * BM + m] = v;
        }
        load_input_taps(li, k0, kdim);
        multiply_tiles(&acc, l);
    }
    store_tile(acc, l, row0, col0, p.cout, ncol);
}
