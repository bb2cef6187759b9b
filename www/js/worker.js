// The lab's worker: the wasm package runs here, off the page's main thread, so the page stays
// responsive while a model renders or an analysis runs. Messages in: {id, op, args}; out:
// {id, value} or {id, error} (a message a person can read), and {id, progress: [done, total]}.
// Calls run one at a time, in order.
import init, { Lab } from '../pkg/ganscope_web.js';

const t0 = performance.now();
let wasmMs = null;
const ready = init().then(() => { wasmMs = performance.now() - t0; });
let lab = null;
let queue = Promise.resolve();

const message = (e) => String((e && e.message) || e);

// Which backend to use. "auto": WebGPU on a hardware adapter; the CPU where there is no
// WebGPU, no adapter, or only a software one (SwiftShader renders these small generators
// far slower than candle on the CPU).
async function choose(want) {
  if (want === 'cpu') return { kind: 'cpu', reason: 'chosen' };
  if (!('gpu' in navigator)) return { kind: 'cpu', reason: 'this browser has no WebGPU' };
  let adapter = null;
  try {
    adapter = await navigator.gpu.requestAdapter();
  } catch (e) {
    return { kind: 'cpu', reason: `no WebGPU adapter (${message(e)})` };
  }
  if (!adapter) return { kind: 'cpu', reason: 'no WebGPU adapter' };
  if (want === 'gpu') return { kind: 'gpu', reason: 'chosen' };
  const info = adapter.info || {};
  if (info.isFallbackAdapter || adapter.isFallbackAdapter) {
    const name = [info.vendor, info.architecture].filter(Boolean).join(' ') || 'software';
    return { kind: 'cpu', reason: `the WebGPU adapter is a software one (${name}); the CPU is faster` };
  }
  return { kind: 'gpu', reason: 'hardware WebGPU adapter' };
}

const ops = {
  async load({ bytes, backend }) {
    const pick = await choose(backend);
    const start = performance.now();
    let next;
    try {
      next = await Lab.load(bytes, pick.kind);
    } catch (e) {
      // a file that fails on the CPU fails everywhere; a WebGPU failure falls back
      if (pick.kind !== 'gpu' || backend === 'gpu') throw e;
      next = await Lab.load(bytes, 'cpu');
      pick.kind = 'cpu';
      pick.reason = `WebGPU failed: ${message(e)}`;
    }
    if (lab) lab.free();
    lab = next;
    return { value: { backend: lab.backend(), kind: pick.kind, reason: pick.reason,
      meta: lab.meta_json(), sites: JSON.parse(lab.sites_json()),
      // milliseconds: fetching and compiling the wasm (from the worker's start), loading the model
      timings: { wasm: wasmMs, load: performance.now() - start } } };
  },
  async render({ seed, n, iv, site }) {
    const r = await lab.render(seed, n, iv, site || '');
    return { value: r, transfer: [r.images.buffer].concat(r.site ? [r.site.buffer] : []) };
  },
  async grid({ seed, iv }) {
    const r = await lab.render_grid(seed, iv);
    return { value: { images: r.images, cols: r.cols, path: Array.from(r.path) },
      transfer: [r.images.buffer] };
  },
  randomPath({ seed }) {
    return { value: Array.from(lab.random_path(seed)) };
  },
  influence({ site, pairs, seed }, progress) {
    const r = lab.influence(site, pairs, seed, progress);
    return { value: r, transfer: [r.maps.buffer] };
  },
  modules({ k, seed }) {
    return { value: lab.modules(k, seed) };
  },
  units({ site, n, seed, topK, iv }) {
    return { value: lab.units(site, n, seed, topK, iv) };
  },
  responsibility({ evaluations, seed, classifier }, progress) {
    return { value: lab.responsibility(evaluations, seed, classifier || new Uint8Array(), progress) };
  },
};

async function run({ id, op, args }) {
  try {
    await ready;
    if (!(op in ops)) throw new Error(`unknown operation ${op}`);
    if (!lab && op !== 'load') throw new Error('no model is loaded');
    const progress = (done, total) => postMessage({ id, progress: [done, total] });
    const { value, transfer } = await ops[op](args, progress);
    postMessage({ id, value }, transfer || []);
  } catch (e) {
    postMessage({ id, error: message(e) });
  }
}

onmessage = ({ data }) => {
  queue = queue.then(() => run(data));
};
