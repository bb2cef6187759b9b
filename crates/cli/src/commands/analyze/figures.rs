//! Figures of the analyses: image grids of maps and overlays, bar charts (plotters, SVG),
//! and one self-contained HTML report (images inlined, every text escaped).

use std::fmt::Write as _;
use std::path::Path;

use base64::Engine as _;
use plotters::prelude::*;

use anyhow::{anyhow, Result};

/// Scales each of `n` maps of `px` values to [-1, 1] by its own maximum (for [`ganscope_train::images::grid`]).
pub fn normalise_maps(maps: &[f32], n: usize, px: usize) -> Vec<f32> {
    (0..n)
        .flat_map(|i| {
            let m = &maps[i * px..(i + 1) * px];
            let top = m.iter().copied().fold(0.0, f32::max).max(1e-12);
            m.iter().map(move |v| 2.0 * v / top - 1.0)
        })
        .collect()
}

/// A `[C, S, S]` image with the pixels of `mask` (`[S * S]`, 0 or 1) tinted red, as RGB.
pub fn overlay(image: &[f32], channels: usize, mask: &[bool]) -> Vec<f32> {
    let px = mask.len();
    let mut out = Vec::with_capacity(3 * px);
    for c in 0..3 {
        let src = &image[c.min(channels - 1) * px..][..px];
        out.extend(src.iter().zip(mask).map(|(&v, &on)| {
            let dim = 0.5 * v - 0.5; // darken outside the mask
            match (on, c) {
                (true, 0) => 1.0,
                (true, _) => 0.5 * v,
                (false, _) => dim,
            }
        }));
    }
    out
}

/// One series of a bar chart: a name and a (mean, std) per category.
pub struct Series {
    /// Legend entry.
    pub name: String,
    /// Mean and standard deviation per category.
    pub values: Vec<(f64, f64)>,
}

const COLOURS: [RGBColor; 6] = [
    RGBColor(220, 60, 60),
    RGBColor(60, 160, 60),
    RGBColor(60, 90, 220),
    RGBColor(120, 120, 120),
    RGBColor(230, 150, 30),
    RGBColor(140, 60, 180),
];

fn plot_err(e: impl std::fmt::Display) -> anyhow::Error {
    anyhow!("drawing a chart: {e}")
}

/// A grouped bar chart with error bars (mean ± std), as SVG text.
pub fn bar_chart(
    title: &str,
    x_desc: &str,
    y_desc: &str,
    categories: &[String],
    series: &[Series],
) -> Result<String> {
    let top = series
        .iter()
        .flat_map(|s| s.values.iter().map(|(m, d)| m + d))
        .fold(0.0f64, f64::max)
        .max(1e-9)
        * 1.15;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (640, 360)).into_drawing_area();
        root.fill(&WHITE).map_err(plot_err)?;
        let nc = categories.len() as f64;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(48)
            .build_cartesian_2d(0.0..nc, 0.0..top)
            .map_err(plot_err)?;
        let cats = categories.to_vec();
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(categories.len() * 2 + 1)
            .x_label_formatter(&move |x| {
                let i = x.floor() as usize;
                if (x - x.floor() - 0.5).abs() < 0.01 && i < cats.len() {
                    cats[i].clone()
                } else {
                    String::new()
                }
            })
            .x_desc(x_desc)
            .y_desc(y_desc)
            .draw()
            .map_err(plot_err)?;
        let ns = series.len().max(1) as f64;
        let width = 0.8 / ns;
        for (k, s) in series.iter().enumerate() {
            let colour = COLOURS[k % COLOURS.len()];
            let x0 = |i: usize| i as f64 + 0.1 + k as f64 * width;
            chart
                .draw_series(s.values.iter().enumerate().map(|(i, &(m, _))| {
                    Rectangle::new([(x0(i), 0.0), (x0(i) + width * 0.9, m)], colour.filled())
                }))
                .map_err(plot_err)?
                .label(s.name.clone())
                .legend(move |(x, y)| {
                    Rectangle::new([(x, y - 5), (x + 10, y + 5)], colour.filled())
                });
            chart
                .draw_series(s.values.iter().enumerate().map(|(i, &(m, d))| {
                    let x = x0(i) + width * 0.45;
                    ErrorBar::new_vertical(x, (m - d).max(0.0), m, m + d, BLACK.filled(), 6)
                }))
                .map_err(plot_err)?;
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()
            .map_err(plot_err)?;
        root.present().map_err(plot_err)?;
    }
    Ok(svg)
}

/// Text made safe for HTML.
pub fn escape(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '&' => "&amp;".to_string(),
            '<' => "&lt;".to_string(),
            '>' => "&gt;".to_string(),
            '"' => "&quot;".to_string(),
            '\'' => "&#39;".to_string(),
            c => c.to_string(),
        })
        .collect()
}

/// One self-contained HTML page of figures and text.
#[derive(Default)]
pub struct Report {
    body: String,
}

impl Report {
    /// A section heading.
    pub fn heading(&mut self, text: &str) {
        let _ = writeln!(self.body, "<h2>{}</h2>", escape(text));
    }

    /// A paragraph.
    pub fn text(&mut self, text: &str) {
        let _ = writeln!(self.body, "<p>{}</p>", escape(text));
    }

    /// A PNG file, inlined, with its alternative text.
    pub fn png(&mut self, path: &Path, alt: &str) -> Result<()> {
        let bytes = std::fs::read(path).map_err(|e| anyhow!("{}: {e}", path.display()))?;
        let b64 = base64::engine::general_purpose::STANDARD.encode(bytes);
        let _ = writeln!(
            self.body,
            "<figure><img class=\"px\" src=\"data:image/png;base64,{b64}\" alt=\"{a}\"><figcaption>{a}</figcaption></figure>",
            a = escape(alt)
        );
        Ok(())
    }

    /// An SVG chart made by [`bar_chart`] (our own output, inlined as is).
    pub fn svg(&mut self, svg: &str, alt: &str) {
        let _ = writeln!(
            self.body,
            "<figure role=\"img\" aria-label=\"{}\">{svg}</figure>",
            escape(alt)
        );
    }

    /// A table; every cell escaped.
    pub fn table(&mut self, head: &[&str], rows: &[Vec<String>]) {
        let cell = |tag: &str, s: &str| format!("<{tag}>{}</{tag}>", escape(s));
        let _ = write!(self.body, "<table><tr>");
        for h in head {
            self.body.push_str(&cell("th", h));
        }
        self.body.push_str("</tr>");
        for r in rows {
            self.body.push_str("<tr>");
            for c in r {
                self.body.push_str(&cell("td", c));
            }
            self.body.push_str("</tr>");
        }
        self.body.push_str("</table>\n");
    }

    /// Writes the page.
    pub fn write(&self, title: &str, path: &Path) -> Result<()> {
        let html = format!(
            "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{t}</title>\
             <style>body{{font-family:sans-serif;max-width:60em;margin:2em auto;padding:0 1em}}\
             img.px{{image-rendering:pixelated;width:100%;max-width:48em}}\
             table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:2px 6px;text-align:right}}\
             figure{{margin:1em 0}}</style></head><body><h1>{t}</h1>\n{}</body></html>\n",
            self.body,
            t = escape(title)
        );
        ganscope_model::format::write_atomic(path, html.as_bytes())?;
        Ok(())
    }
}
