// The browser benchmark against a peer (not a test; numbers for BENCHMARKS.md): the bundled
// standard GAN in ganscope (WebGPU, and candle in wasm) and its ONNX twin (onnx_twin.py, same
// weights) in onnxruntime-web (WebGPU EP and wasm EP, one thread), in the same headless
// Chromium, fed the same latents. Each ganscope engine is timed alternating with its peer
// (rounds of one timing each); prints the median ms per call (latents in, images read back)
// at each batch, the median ratio over rounds, and how far each output is from ganscope's
// CPU output.
//   (cd tests/browser/peer && npm ci) && pip install onnx==1.23.2
//   [MODEL=...] [ENGINES=cpu] node tests/browser/peer/bench-peer.mjs [min-ms-per-case]
//   (after ./build.sh)
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { launch, root, serve } from '../harness.mjs';

const minMs = Number(process.argv[2] || 3000);
// MODEL=path picks another standard generator (e.g. www/models/dcgan-digiface.safetensors)
const MODEL = process.env.MODEL || 'www/models/gan-colored-mnist.safetensors';
// the server serves the repository root: the twin goes under it for the page
fs.mkdirSync(path.join(root, 'target'), { recursive: true });
execFileSync('python3', [path.join(root, 'tests/browser/peer/onnx_twin.py'), path.join(root, MODEL),
  path.join(root, 'target', 'bench-peer-twin.onnx')], { stdio: 'inherit' });

const { base, close } = await serve();
const browser = await launch({ webgpu: true });
const page = await browser.newPage();
page.on('console', (m) => { if (m.type() === 'error') console.error('page:', m.text()); });
await page.goto(`${base}/tests/browser/peer/bench-peer.html?model=/${MODEL}&onnx=/target/bench-peer-twin.onnx`);
await page.waitForFunction(() => document.body.dataset.ready === '1', null, { timeout: 120_000 });

// ENGINES=cpu times the CPU pair alone (SwiftShader's WebGPU takes minutes on the face model)
const gpu = (process.env.ENGINES || 'cpu,gpu').split(',').includes('gpu');
const engines = ['ganscope-cpu', 'ort-wasm', ...(gpu ? ['ganscope-gpu', 'ort-webgpu'] : [])];
const names = {};
for (const e of engines) names[e] = await page.evaluate((e) => window.peer.load(e), e);
for (const e of engines) {
  if (e === 'ganscope-cpu') continue;
  const d = await page.evaluate((e) => window.peer.diff(e, 7, 4), e);
  console.log(`${names[e]}: max |difference| from ganscope's CPU output ${d.toExponential(2)} (4 samples of seed 7)`);
}
// each ganscope engine against its peer, alternating in one loop (BENCHMARKS.md: the ratio
// is the median over rounds, so that the host's drift over seconds does not pick a winner)
const pairs = [['ganscope-cpu', 'ort-wasm'], ...(gpu ? [['ganscope-gpu', 'ort-webgpu']] : [])];
const results = {};
for (const n of [1, 64]) {
  for (const [ours, peer] of pairs) {
    const t = await page.evaluate(([a, b, n, m]) => window.peer.race(a, b, n, m), [ours, peer, n, 2 * minMs]);
    results[`${ours}|${n}`] = t;
    for (const [e, ms] of [[ours, t.ours], [peer, t.peer]]) {
      console.log(`${names[e]}, batch ${n}: ${ms.toFixed(2)} ms per call (median of ${t.rounds} rounds), ` +
        `${(ms / n).toFixed(3)} ms per image`);
    }
  }
}
console.log('\n| batch | ganscope CPU (candle in wasm) | onnxruntime-web wasm EP | ratio | ganscope WebGPU | onnxruntime-web WebGPU EP | ratio |');
console.log('| ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
for (const n of [1, 64]) {
  const c = results[`ganscope-cpu|${n}`];
  const g = results[`ganscope-gpu|${n}`];
  const gpuCells = g ? `${g.ours.toFixed(1)} ms | ${g.peer.toFixed(1)} ms | ${g.ratio.toFixed(2)}x` : '- | - | -';
  console.log(`| ${n} | ${c.ours.toFixed(2)} ms | ${c.peer.toFixed(2)} ms | ${c.ratio.toFixed(2)}x | ${gpuCells} |`);
}
console.log('(ratio: the median over rounds of the peer\'s time over ganscope\'s; above 1 means ganscope is faster)');
if (gpu) console.log(`WebGPU adapter: ${names['ganscope-gpu']}`);
await browser.close();
close();
