// Benchmark of a written site (not a test; numbers for BENCHMARKS.md): `ganscope site` with
// the bundled RPGAN, served by Python's plain static server, and the time from navigation to
// the first image, cold (a new browser profile: no HTTP cache, no service worker) and warm
// (the same profile again, served by the site's service worker), median of `trials`.
// `node tests/browser/bench-site.mjs [trials]`; needs ./build.sh and a ganscope binary
// ($GANSCOPE or target/debug/ganscope). KINDS=gpu,cpu: browsers with and without WebGPU.
import path from 'node:path';
import { ganscope, launch, servePlain, tmp } from './harness.mjs';

const trials = Number(process.argv[2] || 5);
const KINDS = (process.env.KINDS || 'cpu').split(',');
const SITE = path.join(tmp, 'bench-site');
ganscope(['site', 'www/models/rpgan-colored-mnist.safetensors', '--out', SITE]);
const plain = await servePlain(SITE);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function visit(page) {
  const t0 = Date.now();
  await page.goto(`${plain.base}/`);
  await page.waitForFunction(() => Number(document.body.dataset.drawn) > 0, null, { timeout: 120_000 });
  const t = await page.evaluate(() => window.ganscope.timings);
  return { wall: Date.now() - t0, first: t.firstImage, boot: t.boot, script: t.script, manifest: t.manifest, wasm: t.wasm, fetch: t.fetch, load: t.load };
}

for (const kind of KINDS) {
  const browser = await launch({ webgpu: kind === 'gpu' });
  const cold = [];
  const warm = [];
  let backend = '';
  for (let i = 0; i < trials; i++) {
    const ctx = await browser.newContext();
    const page = await ctx.newPage();
    cold.push(await visit(page));
    backend = await page.textContent('#backend-info');
    await page.evaluate(async () => {
      const reg = await navigator.serviceWorker.ready;
      const sw = reg.active;
      if (sw.state !== 'activated') await new Promise((ok) => sw.addEventListener('statechange', () => sw.state === 'activated' && ok()));
    });
    await page.close();
    const again = await ctx.newPage();
    warm.push(await visit(again));
    await ctx.close();
  }
  const m = (xs, k) => median(xs.map((x) => x[k])).toFixed(0);
  const fmt = (xs) => `${m(xs, 'first')} ms after navigation start (wall ${m(xs, 'wall')} ms; in it: boot ` +
    `script at ${m(xs, 'boot')} ms, model list read at ${m(xs, 'manifest')} ms, page script at ${m(xs, 'script')} ms; ` +
    `in the worker: wasm fetch+compile ${m(xs, 'wasm')} ms from its start, then a wait of ${m(xs, 'fetch')} ms ` +
    `for the model's bytes, model load ${m(xs, 'load')} ms)`;
  console.log(`${kind === 'gpu' ? 'browser with WebGPU' : 'browser without WebGPU'}, engine ${backend}`);
  console.log(`  cold: first image ${fmt(cold)}, median of ${trials}`);
  console.log(`  warm: first image ${fmt(warm)}, median of ${trials}`);
  await browser.close();
}
plain.close();
