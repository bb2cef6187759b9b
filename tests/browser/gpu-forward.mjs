// The generator forward in headless Chromium through the wasm package, on WebGPU (SwiftShader
// without a GPU) against the native wgpu forward and on candle in wasm against native candle,
// same file and seed (`ganscope sample --raw`), with and without interventions. Needs
// ./build.sh (www/pkg) and Debian's chromium. Tolerance: rel 1e-4 / abs 1e-5, as for every
// GPU test.
import { launch, native, serve } from './harness.mjs';

const { base, close } = await serve();
const cases = [
  { model: 'www/models/gan-colored-mnist.safetensors', seed: 3, n: 4, iv: '' },
  {
    model: 'www/models/rpgan-colored-mnist.safetensors', seed: 5, n: 3,
    iv: JSON.stringify({
      path: [1, 0, 2, 1],
      edits: [{ site: 'b2', units: [0, 3], region: { kind: 'rect', top: 0.2, left: 0, bottom: 0.9, right: 0.6 } }],
      hybrid: { site: 'b3', channels: [1, 4, 5] },
    }),
  },
  // a layer program with every op kind (dense, reshape, convs, transposed conv, BatchNorm,
  // LeakyReLU, nearest and bilinear up-sampling, residuals, sigmoid, tanh)
  { model: 'tests/fixtures/programs/all-ops.safetensors', seed: 2, n: 3, iv: '' },
  {
    model: 'tests/fixtures/programs/all-ops.safetensors', seed: 2, n: 2,
    iv: JSON.stringify({ edits: [{ site: 'b3', units: [1, 5] }], hybrid: { site: 'b2', channels: [0, 3] } }),
  },
  { model: 'www/models/dcgan-digiface.safetensors', seed: 7, n: 2, iv: '' },
];

const browser = await launch({ webgpu: true });
let failed = false;
try {
  for (const [c, backend] of cases.flatMap((c) => [[c, 'gpu'], [c, 'cpu']])) {
    // WebGPU against the native wgpu forward, candle in wasm against native candle
    const want = native(c.model, c.seed, c.n, c.iv, backend);
    const page = await browser.newPage();
    page.on('console', (m) => console.log(`  page: ${m.text()}`));
    const q = new URLSearchParams({ model: `/${c.model}`, seed: c.seed, n: c.n, iv: c.iv, backend });
    await page.goto(`${base}/tests/browser/gpu-forward.html?${q}`);
    await page.waitForSelector('body[data-done]', { timeout: 300_000 });
    const got = await page.evaluate(() => window.result);
    await page.close();
    if (got.error) throw new Error(`${c.model}: the page failed: ${got.error}`);
    if (got.images.length !== want.length) {
      throw new Error(`${c.model}: ${got.images.length} values in the browser, ${want.length} native`);
    }
    let worst = 0;
    let bad = false;
    for (let k = 0; k < want.length; k++) {
      const err = Math.abs(got.images[k] - want[k]);
      if (!(err <= 1e-5 + 1e-4 * Math.abs(want[k]))) {
        bad = true;
        worst = Math.max(worst, Number.isNaN(err) ? Infinity : err);
      }
    }
    console.log(`${c.model} (seed ${c.seed}, n ${c.n}${c.iv ? ', interventions' : ''}) on ` +
      `"${got.adapter}": ${want.length} values, ${bad ? `MISMATCH (worst ${worst})` : 'match'}`);
    failed ||= bad;
  }
} finally {
  await browser.close();
  close();
}
if (failed) process.exit(1);
