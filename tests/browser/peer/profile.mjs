// A Chromium CPU profile of one engine of bench-peer.html (not a test; for BENCHMARKS.md): the
// share of samples and the ms per call of each function while `peer.time` runs 4 s of calls,
// through the DevTools protocol's Profiler (100 us sampling; the profiler slows both engines).
//   ENGINE=ganscope-cpu|ort-wasm N=64 [MODEL=...] node tests/browser/peer/profile.mjs
// after ./build.sh and one run of bench-peer.mjs (which writes target/bench-peer-twin.onnx).
import { launch, serve } from '../harness.mjs';
const MODEL = process.env.MODEL || 'www/models/gan-colored-mnist.safetensors';
const N = Number(process.env.N || 64);
const { base, close } = await serve();
const browser = await launch({ webgpu: true });
const page = await browser.newPage();
await page.goto(`${base}/tests/browser/peer/bench-peer.html?model=/${MODEL}&onnx=/target/bench-peer-twin.onnx`);
await page.waitForFunction(() => document.body.dataset.ready === '1', null, { timeout: 120_000 });
const eng = process.env.ENGINE || 'ganscope-cpu';
await page.evaluate((e) => window.peer.load(e), eng);
await page.evaluate(([e, n]) => window.peer.time(e, n, 5, 500), [eng, N]);
const cdp = await page.context().newCDPSession(page);
await cdp.send('Profiler.enable');
await cdp.send('Profiler.setSamplingInterval', { interval: 100 });
await cdp.send('Profiler.start');
const t = await page.evaluate(([e, n]) => window.peer.time(e, n, 5, 4000), [eng, N]);
const { profile } = await cdp.send('Profiler.stop');
const self = new Map(); let total = 0;
const dt = (profile.endTime - profile.startTime) / profile.samples.length;
const counts = new Map(); for (const s of profile.samples) counts.set(s, (counts.get(s) || 0) + 1);
for (const n of profile.nodes) { const c = counts.get(n.id) || 0; total += c; const k = n.callFrame.functionName || '(anon ' + n.callFrame.url.split('/').pop() + ')'; self.set(k, (self.get(k) || 0) + c); }
console.log(`${eng} batch ${N}: median ${t.median} ms, ${t.calls} calls; ${total} samples`);
[...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, 30).forEach(([k, c]) => console.log(`${(100 * c / total).toFixed(1).padStart(5)}%  ${(c * dt / 1000 / t.calls).toFixed(2).padStart(6)} ms/call  ${k.slice(0, 110)}`));
await browser.close(); close();
