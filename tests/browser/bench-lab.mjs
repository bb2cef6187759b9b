// Benchmarks of the lab page in headless Chromium (not a test; numbers for BENCHMARKS.md):
// navigation to the first image, cold and warm, with the wasm / model / first-render
// breakdown, and the per-frame latency of a unit edit while painting, of a path change and of
// a Directions slider (GANSpace at b2, the sweep strip redrawn alongside), on WebGPU (whatever adapter the browser has: SwiftShader without a GPU) and on the CPU
// fallback. `node tests/browser/bench-lab.mjs [frames]`; needs ./build.sh. MODEL=NAME (a
// bundled model; default rpgan-colored-mnist) and SITE=bK (default b3) pick what is timed;
// INFLUENCE=bK:PAIRS also times the influence maps of that site in the page (analyses run
// on the CPU in their own worker, whatever the engine).
import { launch, serve } from './harness.mjs';

const frames = Number(process.argv[2] || 20);
const MODEL = process.env.MODEL || 'rpgan-colored-mnist';
const SITE = process.env.SITE || 'b3';
const INFLUENCE = process.env.INFLUENCE || '';
// KINDS=cpu (or gpu) times one engine only
const KINDS = (process.env.KINDS || 'gpu,cpu').split(',');
const { base, close } = await serve();
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fmt = (x) => `${x.toFixed(1)} ms`;

async function firstImage(ctx, backend) {
  const page = await ctx.newPage();
  const t0 = Date.now();
  await page.goto(`${base}/www/index.html?model=${MODEL}&seed=5&panel=units&site=${SITE}&backend=${backend}`);
  await page.waitForFunction(() => Number(document.body.dataset.drawn) > 0, null, { timeout: 300_000 });
  const wall = Date.now() - t0;
  const t = await page.evaluate(() => window.ganscope.timings);
  return { page, wall, t };
}

/** Median ms from a state change to the main image showing it, over `frames` changes. */
function latency(page, kind, frames) {
  return page.evaluate(async ([kind, frames, site]) => {
    const app = window.ganscope;
    const drawn = () => new Promise((ok) => {
      const done = () => document.body.dataset.view === app.viewKey();
      if (done()) { ok(); return; }
      const o = new MutationObserver(() => { if (done()) { o.disconnect(); ok(); } });
      o.observe(document.body, { attributes: true });
    });
    const times = [];
    const [, [c, h, w]] = app.model.sites.find((s) => s[0] === site);
    for (let i = 0; i < frames; i++) {
      const t = performance.now();
      if (kind === 'paint') {
        // a brush stroke grows the region of an edit of 8 units, one cell more per frame
        const data = Array.from({ length: h * w }, (_, p) => (p <= (i + 1) * 7 ? 1 : 0));
        app.set({ edits: [{ site, units: [0, 1, 2, 3, 4, 5, 6, 7], strength: 1, value: 0,
          region: { kind: 'mask', height: h, width: w, data } }] });
      } else if (kind === 'slider') {
        app.set({ moves: [[0, Math.round(10 * (-3 + (6 * (i + 1)) / frames)) / 10 || 0.1]] });
      } else {
        app.set({ path: app.model.blocks.map((m, b) => (i + b) % m) });
      }
      await drawn();
      times.push(performance.now() - t);
    }
    return times;
  }, [kind, frames, SITE]);
}

/** Milliseconds of the influence maps of `site` over `pairs` pairs, started from the page. */
async function influence(page, site, pairs) {
  await page.evaluate(() => window.ganscope.set({ panel: 'hybrids' }));
  await page.selectOption('#hybrid-site', site);
  await page.fill('#pairs', String(pairs));
  const t0 = Date.now();
  await page.click('#influence-run');
  await page.waitForSelector('#influence-progress:not([hidden])');
  await page.waitForSelector('#influence-progress', { state: 'hidden', timeout: 3_600_000 });
  const n = await page.$$eval('#maps canvas', (c) => c.length);
  if (!n) throw new Error(`no maps: ${await page.textContent('#error')}`);
  return Date.now() - t0;
}

const rows = [];
for (const kind of KINDS) {
  const browser = await launch({ webgpu: kind === 'gpu' });
  const ctx = await browser.newContext();
  const cold = await firstImage(ctx, kind === 'gpu' ? 'gpu' : 'auto');
  const backend = await cold.page.evaluate(() => document.getElementById('backend-info').textContent);
  await cold.page.close();
  const warm = await firstImage(ctx, kind === 'gpu' ? 'gpu' : 'auto');
  const paint = await latency(warm.page, 'paint', frames);
  await warm.page.evaluate(() => window.ganscope.set({ panel: 'paths', edits: [] }));
  const rpgan = await warm.page.evaluate(() => window.ganscope.model.rpgan);
  const path = rpgan ? await latency(warm.page, 'path', frames) : [NaN];
  const t0 = Date.now();
  await warm.page.evaluate(() => window.ganscope.set({ panel: 'directions' }));
  await warm.page.waitForSelector('#dir-0', { timeout: 300_000 });
  const find = Date.now() - t0;
  const slider = await latency(warm.page, 'slider', frames);
  console.log(`\n${backend}`);
  for (const [name, r] of [['cold', cold], ['warm', warm]]) {
    console.log(`  ${name}: navigation to first image ${r.wall} ms (in the page: wasm fetch+compile ` +
      `${fmt(r.t.wasm)} in the worker, model fetch ${fmt(r.t.fetch)}, model load ${fmt(r.t.load)}, ` +
      `first image at ${fmt(r.t.firstImage)} after navigation start)`);
  }
  if (INFLUENCE) {
    const [site, pairs] = INFLUENCE.split(':');
    const ms = await influence(warm.page, site, Number(pairs));
    console.log(`  influence maps of ${site} over ${pairs} pairs: ${ms} ms`);
  }
  console.log(`  unit edit while painting (${SITE}, 8 units, units panel): median ${fmt(median(paint))} per frame over ${frames}`);
  console.log(`  path change (paths panel, grid of 32 renders alongside): median ${fmt(median(path))} per frame over ${frames}`);
  console.log(`  directions: found in ${find} ms (SeFa with a latent z, else GANSpace at b2); slider move (the sweep's 7 renders alongside): ` +
    `median ${fmt(median(slider))} per frame over ${frames}`);
  rows.push({ kind, cold: cold.wall, warm: warm.wall, paint: median(paint), path: median(path),
    find, slider: median(slider) });
  await browser.close();
}
close();
