// The generator forward in headless Chromium on WebGPU (SwiftShader without a GPU) against
// the native wgpu forward of the same file and seed (`ganscope sample --backend gpu --raw`, the
// debug binary that `cargo test --workspace` builds, or $GANSCOPE),
// with and without interventions. Needs ./build.sh (www/pkg) and Debian's chromium.
// Tolerance: rel 1e-4 / abs 1e-5, as for every GPU test.
import { chromium } from 'playwright-core';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const types = { '.html': 'text/html', '.js': 'text/javascript', '.wasm': 'application/wasm' };

const server = http.createServer((req, res) => {
  const file = path.join(root, decodeURIComponent(new URL(req.url, 'http://x').pathname));
  if (!file.startsWith(root + path.sep)) { res.writeHead(403); res.end(); return; }
  fs.readFile(file, (err, data) => {
    if (err) { res.writeHead(404); res.end(); return; }
    res.writeHead(200, { 'content-type': types[path.extname(file)] || 'application/octet-stream' });
    res.end(data);
  });
});
await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
const base = `http://127.0.0.1:${server.address().port}`;

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ganscope-browser-'));
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
];

function native(c, i) {
  const raw = path.join(tmp, `native${i}.f32`);
  const args = ['sample', c.model, '--n', String(c.n), '--seed', String(c.seed),
    '--backend', 'gpu', '--out', path.join(tmp, `native${i}.png`), '--raw', raw];
  if (c.iv) {
    fs.writeFileSync(path.join(tmp, `iv${i}.json`), c.iv);
    args.push('--interventions', path.join(tmp, `iv${i}.json`));
  }
  // the binary `cargo test --workspace` built (a `cargo run -p` would resolve features
  // differently and rebuild half the workspace); GANSCOPE overrides it
  const bin = process.env.GANSCOPE || path.join(root, 'target/debug/ganscope');
  if (!fs.existsSync(bin)) throw new Error(`${bin} is missing: run cargo test --workspace or set GANSCOPE`);
  execFileSync(bin, args, { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
  const b = fs.readFileSync(raw);
  return new Float32Array(b.buffer, b.byteOffset, b.length / 4);
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  ignoreDefaultArgs: ['--headless'],
  args: ['--headless=new', '--no-sandbox', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--disable-quic', '--enable-unsafe-webgpu',
    '--enable-webgpu-developer-features'],
});
let failed = false;
try {
  for (const [i, c] of cases.entries()) {
    const want = native(c, i);
    const page = await browser.newPage();
    page.on('console', (m) => console.log(`  page: ${m.text()}`));
    const q = new URLSearchParams({ model: `/${c.model}`, seed: c.seed, n: c.n, iv: c.iv });
    await page.goto(`${base}/tests/browser/gpu-forward.html?${q}`);
    await page.waitForSelector('body[data-done]', { timeout: 300_000 });
    const got = await page.evaluate(() => window.result);
    await page.close();
    if (got.error) throw new Error(`${c.model}: the page failed: ${got.error}`);
    if (got.images.length !== want.length) {
      throw new Error(`${c.model}: ${got.images.length} values in the browser, ${want.length} native`);
    }
    let worst = 0;
    for (let k = 0; k < want.length; k++) {
      const err = Math.abs(got.images[k] - want[k]);
      if (!(err <= 1e-5 + 1e-4 * Math.abs(want[k]))) {
        failed = true;
        worst = Math.max(worst, Number.isNaN(err) ? Infinity : err);
      }
    }
    console.log(`${c.model} (seed ${c.seed}, n ${c.n}${c.iv ? ', interventions' : ''}) on ` +
      `"${got.adapter}": ${want.length} values, ${failed ? `MISMATCH (worst ${worst})` : 'match'}`);
  }
} finally {
  await browser.close();
  server.close();
  fs.rmSync(tmp, { recursive: true, force: true });
}
if (failed) process.exit(1);
