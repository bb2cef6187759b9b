// The lab's worker: the wasm package runs here, off the page's main thread, so the page stays
// responsive while a model renders or an analysis runs. Messages in: {id, op, args}, and
// {op: "cancel"}; out: {id, value} or {id, error} (a message a person can read), and
// {id, progress: [done, total]}.
// Calls run one at a time: the most urgent waiting call first (a message's `prio`, lower
// first: the main image before the other renders, renders before grid rows, grid rows before
// analyses), in order of arrival among equals.
import { readModel } from './fetch.js';

const t0 = performance.now();
let wasmMs = null;
let wasm = null;
// the wasm package (`{Lab, is_checkpoint, import_checkpoint}`) is imported, not a static
// import: a module worker runs nothing, its message handler included, until its static
// imports have loaded, and the first model's read (a "prefetch") should not wait for them
let pkg = null;
const ready = import('../pkg/ganscope_web.js').then(async (m) => {
  wasm = await m.default();
  pkg = m;
  wasmMs = performance.now() - t0;
});
let lab = null;
const waiting = [];
let running = false;
// default urgency of each operation (a message may say its own)
const PRIO = { load: 0, randomPath: 0, render: 1, grid: 2 };

const message = (e) => String((e && e.message) || e);

// the first model's read, begun as the page's boot asked (js/boot.js): `{url, bytes}`
let prefetched = null;

/** The bytes a load asks for by `{url, shown, scope}`: the read begun early when it is the
 * same, else a new one. */
function read(req) {
  const early = prefetched;
  prefetched = null;
  return early && early.url === req.url ? early.bytes : readModel(req);
}

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
  // a model's `bytes`, or a `request` ({url, shown, scope}) that this worker reads
  async load({ bytes, request, backend, name }) {
    const asked = performance.now();
    const fetched = !bytes;
    if (fetched) bytes = await read(request);
    const fetchMs = performance.now() - asked;
    const pick = await choose(backend);
    const start = performance.now();
    // a PyTorch checkpoint is imported here, by the same code as `ganscope import`
    let imported = null;
    if (pkg.is_checkpoint(bytes)) {
      const m = pkg.import_checkpoint(bytes, String(name || 'checkpoint'));
      bytes = m.bytes;
      imported = m.report;
    }
    let next;
    try {
      next = await pkg.Lab.load(bytes, pick.kind);
    } catch (e) {
      // a file that fails on the CPU fails everywhere; a WebGPU failure falls back
      if (pick.kind !== 'gpu' || backend === 'gpu') throw e;
      next = await pkg.Lab.load(bytes, 'cpu');
      pick.kind = 'cpu';
      pick.reason = `WebGPU failed: ${message(e)}`;
    }
    if (lab) lab.free();
    lab = next;
    return { value: { backend: lab.backend(), kind: pick.kind, reason: pick.reason,
      meta: lab.meta_json(), card: lab.card(String(name || '')), sites: JSON.parse(lab.sites_json()),
      concepts: JSON.parse(lab.concepts_json()), imported,
      // the model file read here or imported, for the analyses' worker (js/lab.js)
      modelBytes: imported || fetched ? bytes : null,
      // milliseconds: fetching and compiling the wasm (from the worker's start), waiting for
      // the model's bytes (a read begun early may be done), loading the model
      timings: { wasm: wasmMs, fetch: fetchMs, load: performance.now() - start } },
      transfer: imported || fetched ? [bytes.buffer] : [] };
  },
  async render({ seed, n, iv, site }) {
    const r = await lab.render(seed, n, iv, site || '');
    return { value: r, transfer: [r.images.buffer].concat(r.site ? [r.site.buffer] : []) };
  },
  async grid({ seed, iv, bucket }) {
    const r = await lab.render_grid(seed, iv, Number.isInteger(bucket) ? bucket : undefined);
    return { value: { images: r.images, cols: r.cols, path: Array.from(r.path) },
      transfer: [r.images.buffer] };
  },
  latents({ seed, n }) {
    return { value: lab.latents(seed, n) };
  },
  // resource counts for long-session tests: the wasm memory, the GPU's pools and caches
  stats() {
    return { value: { wasmBytes: wasm.memory.buffer.byteLength, ...JSON.parse(lab.stats_json()) } };
  },
  loseDevice() {
    return { value: lab.lose_device() };
  },
  async ace({ site, units, concept, n, seed }) {
    return { value: await lab.ace(site, Uint32Array.from(units), concept, n, seed) };
  },
  async groups({ site, k, samples, seed }) {
    return { value: await lab.groups(site, k, samples, seed) };
  },
  async locality({ site, labels, pairs, seed }) {
    return { value: await lab.locality(site, Uint32Array.from(labels), pairs, seed) };
  },
  randomPath({ seed }) {
    return { value: Array.from(lab.random_path(seed)) };
  },
  async influence({ site, pairs, seed }, progress) {
    const r = await lab.influence(site, pairs, seed, progress);
    return { value: r, transfer: [r.maps.buffer] };
  },
  async directions({ method, site, samples, top }) {
    const r = await lab.directions(method || '', site || '', samples, top);
    return { value: r, transfer: r.directions.map((d) => d.vector.buffer) };
  },
  modules({ k, seed }) {
    return { value: lab.modules(k, seed) };
  },
  async units({ site, n, seed, topK, iv }) {
    return { value: await lab.units(site, n, seed, topK, iv) };
  },
  async responsibility({ evaluations, seed, classifier }, progress) {
    return { value: await lab.responsibility(evaluations, seed, classifier || new Uint8Array(), progress) };
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

async function pump() {
  running = true;
  while (waiting.length) {
    let best = 0;
    for (let i = 1; i < waiting.length; i++) if (waiting[i].prio < waiting[best].prio) best = i;
    const [next] = waiting.splice(best, 1);
    await run(next);
  }
  running = false;
}

onmessage = ({ data }) => {
  // a prefetch begins at once, whatever is running or waiting
  if (data.op === 'prefetch') {
    prefetched = { url: data.args.url, bytes: readModel(data.args) };
    prefetched.bytes.catch(() => {}); // its load reports a failure
    return;
  }
  // a cancel is taken at once, between the running analysis's GPU readbacks: it stops at its
  // next render, and the calls still waiting are dropped
  if (data.op === 'cancel') {
    if (lab) lab.cancel();
    for (const w of waiting.splice(0)) postMessage({ id: w.id, error: 'cancelled' });
    return;
  }
  const prio = Number.isFinite(data.prio) ? data.prio : (PRIO[data.op] ?? 3);
  waiting.push({ ...data, prio });
  if (!running) pump();
};
