// The tiled GEMM of linear.wgsl, conv2d.wgsl and conv_transpose2d.wgsl, put before each: a
// workgroup of 16 x 16 invocations computes a BM x BN tile of outputs (rows = output features
// or channels, columns = samples or output pixels), K staged in tiles of BK in workgroup
// memory, TM x TN outputs per invocation. The kernel file defines the parameter block
// `struct P` (with `has_bias`), loads the tiles and places output (m, col) at
// `fn out_index(m: u32, col: u32) -> u32` in y.
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

// Stages rows row0.. and K k0.. of the row-major weights [rows, kdim] into a_tile (zero past
// the ends); consecutive invocations read consecutive k.
fn load_weight_rows(li: u32, row0: u32, k0: u32, rows: u32, kdim: u32) {
    for (var t = 0u; t < TM; t++) {
        let e = li + t * 256u;
        let kq = e % BK;
        let m = e / BK;
        var v = 0.0;
        if (row0 + m < rows && k0 + kq < kdim) { v = wt[(row0 + m) * kdim + k0 + kq]; }
        a_tile[kq * BM + m] = v;
    }
}

// Once both tiles are staged: acc += this invocation's outputs of a_tile^T b_tile.
fn multiply_tiles(acc: ptr<function, array<f32, 16>>, l: vec3<u32>) {
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
                (*acc)[r * TN + c] = fma(a[r], b[c], (*acc)[r * TN + c]);
            }
        }
    }
    workgroupBarrier();
}

// Writes this invocation's outputs of the tile at (row0, col0) plus the bias, those inside
// rows x cols.
fn store_tile(acc: array<f32, 16>, l: vec3<u32>, row0: u32, col0: u32, rows: u32, cols: u32) {
    for (var r = 0u; r < TM; r++) {
        let m = row0 + l.y + 16u * r;
        if (m >= rows) { continue; }
        var bm = 0.0;
        if (p.has_bias != 0u) { bm = bias[m]; }
        for (var c = 0u; c < TN; c++) {
            let col = col0 + l.x + 16u * c;
            if (col < cols) { y[out_index(m, col)] = acc[r * TN + c] + bm; }
        }
    }
}
