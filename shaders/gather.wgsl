// Row gather along dim 0 (RPGAN block selection, batch repeat): y[r, j] = x[idx[r], j];
// aux holds idx (u32) at offset idx; n = output elements, row = elements per row.
struct P { n: u32, row: u32, idx: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> aux: array<u32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
    let i = (wg.y * nw.x + wg.x) * 256u + li;
    if (i >= p.n) { return; }
    y[i] = x[aux[p.idx + i / p.row] * p.row + i % p.row];
}
