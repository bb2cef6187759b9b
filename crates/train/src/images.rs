//! Image grids as PNG.

use crate::Result;
use image::{DynamicImage, GrayImage, RgbImage};

/// Tiles `n` images (`[n, c, s, s]` values in [-1, 1]) into a grid of `nrow` columns with a
/// 2-pixel gap.
pub fn grid(data: &[f32], n: usize, c: usize, s: usize, nrow: usize) -> DynamicImage {
    let pix = ganscope_model::sample::to_u8(data);
    let cols = nrow.clamp(1, n.max(1));
    let rows = n.div_ceil(cols);
    let (gw, gh) = ((cols * (s + 2) + 2) as u32, (rows * (s + 2) + 2) as u32);
    let at = |i: usize, ch: usize, y: usize, x: usize| pix[((i * c + ch) * s + y) * s + x];
    let origin = |i: usize| (2 + (i % cols) * (s + 2), 2 + (i / cols) * (s + 2));
    if c == 1 {
        let mut img = GrayImage::new(gw, gh);
        for i in 0..n {
            let (ox, oy) = origin(i);
            for y in 0..s {
                for x in 0..s {
                    img.put_pixel(
                        (ox + x) as u32,
                        (oy + y) as u32,
                        image::Luma([at(i, 0, y, x)]),
                    );
                }
            }
        }
        DynamicImage::ImageLuma8(img)
    } else {
        let mut img = RgbImage::new(gw, gh);
        for i in 0..n {
            let (ox, oy) = origin(i);
            for y in 0..s {
                for x in 0..s {
                    let p = [at(i, 0, y, x), at(i, 1, y, x), at(i, 2, y, x)];
                    img.put_pixel((ox + x) as u32, (oy + y) as u32, image::Rgb(p));
                }
            }
        }
        DynamicImage::ImageRgb8(img)
    }
}

/// Writes an image as PNG, atomically.
pub fn save_png(img: &DynamicImage, path: &std::path::Path) -> Result<()> {
    let mut bytes = Vec::new();
    img.write_to(
        &mut std::io::Cursor::new(&mut bytes),
        image::ImageFormat::Png,
    )?;
    ganscope_model::format::write_atomic(path, &bytes)?;
    Ok(())
}
