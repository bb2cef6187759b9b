// Pixels: generator output ([n, C, S, S] floats in [-1, 1]) and activation maps onto canvases.

/** The 8-bit value of an output float, exactly as `ganscope sample` writes its PNGs. */
export const toByte = (v) => Math.round((Math.min(1, Math.max(-1, v)) + 1) * 127.5);

/** Draws image `i` of `[n, channels, size, size]` data on `canvas` at its own resolution. */
export function drawImage(canvas, data, i, channels, size) {
  const px = size * size;
  const rgba = new Uint8ClampedArray(px * 4);
  const base = i * channels * px;
  for (let p = 0; p < px; p++) {
    for (let c = 0; c < 3; c++) {
      rgba[4 * p + c] = toByte(data[base + (channels === 3 ? c : 0) * px + p]);
    }
    rgba[4 * p + 3] = 255;
  }
  canvas.width = size;
  canvas.height = size;
  canvas.getContext('2d').putImageData(new ImageData(rgba, size, size), 0, 0);
}

// a perceptually ordered dark-to-bright ramp (black, purple, orange, yellow)
const RAMP = [[0, 0, 4], [87, 16, 110], [188, 55, 84], [249, 142, 9], [252, 255, 164]];

function heat(t) {
  const x = Math.min(1, Math.max(0, t)) * (RAMP.length - 1);
  const k = Math.min(RAMP.length - 2, Math.floor(x));
  const f = x - k;
  return RAMP[k].map((a, j) => Math.round(a + f * (RAMP[k + 1][j] - a)));
}

/** Draws a `h x w` map from `data` at `offset` as a heat map scaled so `lo..hi` spans it. */
export function drawHeat(canvas, data, offset, h, w, lo, hi) {
  const rgba = new Uint8ClampedArray(h * w * 4);
  const span = hi > lo ? hi - lo : 1;
  for (let p = 0; p < h * w; p++) {
    const [r, g, b] = heat((data[offset + p] - lo) / span);
    rgba.set([r, g, b, 255], 4 * p);
  }
  canvas.width = w;
  canvas.height = h;
  canvas.getContext('2d').putImageData(new ImageData(rgba, w, h), 0, 0);
}

/** Smallest and largest of `len` values at `offset`. */
export function range(data, offset, len) {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = offset; i < offset + len; i++) {
    if (data[i] < lo) lo = data[i];
    if (data[i] > hi) hi = data[i];
  }
  return [lo, hi];
}

/** A new canvas with a CSS class and a text alternative. */
export function canvas(cls, label) {
  const c = document.createElement('canvas');
  c.className = cls;
  c.setAttribute('role', 'img');
  c.setAttribute('aria-label', label);
  return c;
}
