// What conv2d.wgsl and conv_transpose2d.wgsl share, put after common/gemm.wgsl and before each:
// the parameter block and the input tile, gathered from x column by column. The kernel file
// defines `fn column_origin(q: u32) -> vec2<i32>` (the input row and column of tap 0 for
// column q of a sample) and `fn tap(gk: u32) -> Tap` (the input channel of K index gk and
// its tap's offset from the origin).
struct P {
    n: u32, cin: u32, h: u32, w: u32,
    cout: u32, ho: u32, wo: u32, k: u32,
    stride: u32, pad: u32, has_bias: u32,
}

struct Tap { c: u32, dy: i32, dx: i32 }

// The columns this invocation loads, decoded once: the input plane of its sample (-1 out of
// range) and the input row/column of tap 0.
var<private> b_base: array<i32, 8>;
var<private> b_y: array<i32, 8>;
var<private> b_x: array<i32, 8>;

// Decodes this invocation's columns of the tile at col0, of ncol columns, per_sample each.
fn decode_columns(li: u32, col0: u32, ncol: u32, per_sample: u32) {
    for (var t = 0u; t < TN; t++) {
        let col = col0 + (li + t * 256u) % BN;
        b_base[t] = -1;
        if (col < ncol) {
            let o = column_origin(col % per_sample);
            b_base[t] = i32((col / per_sample) * p.cin * p.h * p.w);
            b_y[t] = o[0];
            b_x[t] = o[1];
        }
    }
}

// Stages K k0.. of the decoded columns into b_tile (zero outside the input and past kdim);
// consecutive invocations read consecutive columns.
fn load_input_taps(li: u32, k0: u32, kdim: u32) {
    for (var t = 0u; t < TN; t++) {
        let e = li + t * 256u;
        let c = e % BN;
        let kb = e / BN;
        let gk = k0 + kb;
        var u = 0.0;
        if (b_base[t] >= 0 && gk < kdim) {
            let tp = tap(gk);
            let iy = b_y[t] + tp.dy;
            let ix = b_x[t] + tp.dx;
            if (iy >= 0 && iy < i32(p.h) && ix >= 0 && ix < i32(p.w)) {
                u = x[u32(b_base[t]) + (tp.c * p.h + u32(iy)) * p.w + u32(ix)];
            }
        }
        b_tile[kb * BN + c] = u;
    }
}
