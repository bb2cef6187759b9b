// Fills y[0..n) with one bit pattern (after common/elementwise.wgsl; poisons outputs in tests).
struct P { n: u32, bits: u32 }
@group(0) @binding(2) var<storage, read_write> y: array<u32>;

fn element(i: u32) {
    y[i] = p.bits;
}
