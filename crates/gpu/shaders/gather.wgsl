// Row gather along dim 0 (after common/elementwise.wgsl; RPGAN block selection, batch repeat):
// y[r, j] = x[idx[r], j]; aux holds idx (u32) at offset idx; n = output elements, row =
// elements per row.
struct P { n: u32, row: u32, idx: u32 }
@group(0) @binding(1) var<storage, read> aux: array<u32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

fn element(i: u32) {
    y[i] = x[aux[p.idx + i / p.row] * p.row + i % p.row];
}
