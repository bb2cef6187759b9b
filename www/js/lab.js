// The page's side of the worker (js/worker.js): promises for calls, progress callbacks, and
// "latest wins" renders so that painting or dragging never queues stale frames.
export class LabClient {
  /** A client of `worker`, or of a worker of its own. */
  constructor(worker = null) {
    this.worker = worker || new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
    this.next = 1;
    this.pending = new Map();
    this.latest = new Map();
    this.worker.onmessage = ({ data }) => {
      const p = this.pending.get(data.id);
      if (!p) return;
      if (data.progress) {
        if (p.onProgress) p.onProgress(...data.progress);
        return;
      }
      this.pending.delete(data.id);
      if ('error' in data) p.reject(new Error(data.error));
      else p.resolve(data.value);
    };
    this.worker.onerror = (e) => {
      const err = new Error(`the lab's worker failed: ${e.message || 'unknown error'}`);
      for (const p of this.pending.values()) p.reject(err);
      this.pending.clear();
    };
  }

  /** Calls `op` in the worker; resolves to its value, rejects with its message. */
  call(op, args = {}, { onProgress, transfer, prio } = {}) {
    const id = this.next++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, onProgress });
      this.worker.postMessage({ id, op, args, prio }, transfer || []);
    });
  }

  /**
   * Like `call`, but for a `key` (e.g. "main image") only one call is in flight: a call made
   * meanwhile replaces any waiting one, and a replaced call resolves to null. `prio` is the
   * worker's urgency (lower first; see worker.js).
   */
  latestCall(key, op, args, prio) {
    let slot = this.latest.get(key);
    if (!slot) {
      slot = { busy: false, waiting: null };
      this.latest.set(key, slot);
    }
    return new Promise((resolve, reject) => {
      if (slot.waiting) slot.waiting.resolve(null);
      slot.waiting = { op, args, prio, resolve, reject };
      if (!slot.busy) this.#pump(slot);
    });
  }

  async #pump(slot) {
    slot.busy = true;
    while (slot.waiting) {
      const w = slot.waiting;
      slot.waiting = null;
      try {
        w.resolve(await this.call(w.op, w.args, { prio: w.prio }));
      } catch (e) {
        w.reject(e);
      }
    }
    slot.busy = false;
  }
}

/**
 * The analyses' own worker, beside the one that renders, so that an analysis never holds up
 * the images and can be cancelled: it gets a copy of the loaded model's bytes (`setModel`),
 * loads it when the first analysis needs it on `backend`: "cpu", or "auto" when the images
 * render on WebGPU (the worker's choice: WebGPU on a hardware adapter, else the CPU, and the
 * CPU if WebGPU fails there). `cancel()` rejects the analysis's call with an
 * error whose `cancelled` is true and stops the work: on WebGPU the worker is told, and the
 * analysis stops at its next render (ending a worker in the middle of GPU work stalls the
 * browser's GPU process, and with it the page's frames, while the work drains); on the CPU,
 * which never yields to the worker's messages, the worker is ended, and the next call starts
 * a fresh one that loads the model again. `backend` is where the analyses run, in words.
 */
export class AnalysisClient {
  constructor() {
    this.client = null;
    this.bytes = null;
    this.name = '';
    this.want = 'cpu';
    this.loaded = null;
    this.backend = '';
    this.onBackend = null;
  }

  /** The model the analyses run on (bytes are kept, not transferred), on `backend`
   * ("auto" or "cpu"). */
  setModel(bytes, name, backend) {
    this.bytes = bytes;
    this.name = name;
    this.want = backend === 'auto' ? 'auto' : 'cpu';
    this.loaded = null;
    this.backend = '';
  }

  #ensure() {
    if (!this.client) this.client = new LabClient();
    if (!this.loaded) {
      const copy = this.bytes.slice();
      this.loaded = this.client.call('load', { bytes: copy, backend: this.want, name: this.name },
        { transfer: [copy.buffer] })
        .then((r) => {
          this.backend = r.backend;
          if (this.onBackend) this.onBackend(r.backend);
          return r;
        });
      this.loaded.catch(() => { this.loaded = null; });
    }
    return this.loaded;
  }

  /** Runs analysis `op` (as LabClient.call) in the analyses' worker. */
  async call(op, args = {}, opts = {}) {
    if (!this.bytes) throw new Error('no model is loaded');
    await this.#ensure();
    return this.client.call(op, args, opts);
  }

  /** Stops whatever the analyses' worker is doing. */
  cancel() {
    if (!this.client) return;
    const err = new Error('cancelled');
    err.cancelled = true;
    for (const p of this.client.pending.values()) p.reject(err);
    this.client.pending.clear();
    if (this.backend.startsWith('WebGPU')) {
      this.client.worker.postMessage({ op: 'cancel' });
      return;
    }
    this.client.worker.terminate();
    this.client = null;
    this.loaded = null;
  }
}
