// The page's side of the worker (js/worker.js): promises for calls, progress callbacks, and
// "latest wins" renders so that painting or dragging never queues stale frames.
export class LabClient {
  constructor() {
    this.worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
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
