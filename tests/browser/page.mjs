// What the page tests share: reading a canvas, comparing it with the native forward (8-bit,
// within one level), opening the lab page, waiting until it shows its latest state, and the
// runner that takes every test through WebGPU (SwiftShader) and the CPU fallback.
import fs from 'node:fs';
import { launch } from './harness.mjs';

export const toByte = (v) => Math.round((Math.min(1, Math.max(-1, v)) + 1) * 127.5);
/** RGBA bytes of a canvas on the page. */
export const pixels = (page, id) => page.evaluate((id) => {
  const c = document.getElementById(id);
  return Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data);
}, id);

/** Checks canvas RGBA against native floats (one image, C channels) within one level. */
export function same(rgba, want, what) {
  const px = rgba.length / 4;
  const channels = want.length / px;
  if (!Number.isInteger(channels)) throw new Error(`${what}: ${px} pixels, ${want.length} values`);
  let worst = 0;
  for (let p = 0; p < px; p++) {
    for (let c = 0; c < 3; c++) {
      const w = toByte(want[(channels === 3 ? c : 0) * px + p]);
      worst = Math.max(worst, Math.abs(rgba[4 * p + c] - w));
    }
  }
  if (worst > 1) throw new Error(`${what}: the page differs from native by ${worst} levels`);
}

export const differs = (a, b) => a.some((v, i) => v !== b[i]);

export async function open(browser, base, query, errors) {
  const page = await browser.newPage({ acceptDownloads: true });
  page.on('pageerror', (e) => errors.push(`page error: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(`console: ${m.text()}`); });
  await page.goto(`${base}/www/index.html${query}`);
  await ready(page);
  return page;
}

export async function ready(page) {
  await page.waitForSelector('body[data-ready="1"]', { timeout: 120_000 });
  await page.waitForFunction(() => Number(document.body.dataset.drawn) > 0, null, { timeout: 120_000 });
}

/** Waits until the main image shows the page's latest state. */
export async function settle(page) {
  await page.waitForFunction(() => document.body.dataset.ready === '1'
    && document.body.dataset.view === window.ganscope.viewKey(), null, { timeout: 120_000 });
}

/** Does `action`, then waits until the main image shows the state it led to. */
export async function redraw(page, action) {
  await action();
  await settle(page);
}

/** Marks the banner (#error) shown at the end of a test on `page` as expected; any other
 * banner left on the page fails the test. */
export function expectBanner(page) {
  page.bannerExpected = true;
}

export const state = (page) => page.evaluate(() => JSON.parse(JSON.stringify(window.ganscope.state)));

/**
 * Runs `tests` (`{name: async (page, kind) => note?}`) in a browser with WebGPU (kind "gpu",
 * the page forced onto it) and one without (kind "cpu", the page's own choice), each on a
 * fresh page of the lab at seed 5 of the bundled RPGAN; then `extra[kind]` (`{name: async
 * (browser) => note?}`). Console errors fail a test unless they match `expected`, and so does
 * the page's error banner left showing unless the test called `expectBanner`. Prints a
 * line per test and the closing count, calls `close`, and exits 1 when one failed. `kinds`
 * narrows the browsers to those a suite's tests depend on.
 */
export async function runSuite({ base, close, tests, extra = {}, expected = /Failed to load resource/, kinds = ['gpu', 'cpu'] }) {
  // ONLY=regex runs the tests whose names match (while working on them)
  const only = process.env.ONLY ? new RegExp(process.env.ONLY) : null;
  const chosen = (o) => Object.entries(o).filter(([name]) => !only || only.test(name));
  let failed = 0;
  let passed = 0;
  const report = async (kind, name, f) => {
    const t0 = Date.now();
    try {
      const said = await f();
      console.log(`ok   [${kind}] ${name} (${Date.now() - t0} ms)${said ? `: ${said}` : ''}`);
      passed += 1;
    } catch (e) {
      failed += 1;
      console.log(`FAIL [${kind}] ${name}: ${e.message}`);
    }
  };
  try {
    for (const kind of kinds) {
      const browser = await launch({ webgpu: kind === 'gpu' });
      const backend = kind === 'gpu' ? 'gpu' : 'auto';
      for (const [name, t] of chosen(tests)) {
        await report(kind, name, async () => {
          const errors = [];
          const page = await open(browser, base, `?model=rpgan-colored-mnist&seed=5&backend=${backend}`, errors);
          try {
            const said = await t(page, kind);
            const bad = errors.filter((e) => !expected.test(e));
            if (bad.length) throw new Error(bad.join('\n'));
            const banner = page.isClosed() ? '' : await page.textContent('#error');
            if (banner && !page.bannerExpected) throw new Error(`the page shows an unexpected error: ${banner}`);
            return said;
          } finally {
            await page.close();
          }
        });
      }
      for (const [name, t] of chosen(extra[kind] || {})) await report(kind, name, () => t(browser));
      await browser.close();
    }
  } finally {
    close();
  }
  console.log(`${passed} passed, ${failed} failed`);
  if (failed) process.exit(1);
}

/** Clicks `selector`, which downloads a file; resolves to `{name, bytes}`. */
export async function download(page, selector) {
  const [d] = await Promise.all([page.waitForEvent('download'), page.click(selector)]);
  return { name: d.suggestedFilename(), bytes: fs.readFileSync(await d.path()) };
}

/** A PNG's size and RGBA bytes, decoded by the browser. */
export function decodePng(page, bytes) {
  return page.evaluate(async (b) => {
    const bmp = await createImageBitmap(new Blob([new Uint8Array(b)], { type: 'image/png' }));
    const c = new OffscreenCanvas(bmp.width, bmp.height);
    const ctx = c.getContext('2d');
    ctx.drawImage(bmp, 0, 0);
    return { width: bmp.width, height: bmp.height, data: Array.from(ctx.getImageData(0, 0, bmp.width, bmp.height).data) };
  }, Array.from(bytes));
}

/** Checks that `png` shows canvas `rgba` (`w` x `h`) scaled up `k` times at (`x0`, `y0`). */
export function scaledCopy(png, rgba, w, h, k, [x0, y0], what) {
  for (let y = 0; y < h * k; y++) {
    for (let x = 0; x < w * k; x++) {
      const p = 4 * ((y0 + y) * png.width + x0 + x);
      const q = 4 * (Math.floor(y / k) * w + Math.floor(x / k));
      for (let c = 0; c < 4; c++) {
        if (png.data[p + c] !== rgba[q + c]) {
          throw new Error(`${what}: pixel (${x0 + x}, ${y0 + y}) is ${png.data.slice(p, p + 4)}, the canvas has ${rgba.slice(q, q + 4)}`);
        }
      }
    }
  }
}
