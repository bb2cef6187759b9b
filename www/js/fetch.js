// Reading a model file, for the lab's worker (js/worker.js), which fetches the models itself:
// the page's main thread is busy loading its own script while the first model is read, and a
// read there took three times as long (130-180 ms against 40-50 ms for the bundled 6.7 MiB
// RPGAN, warm, 2 cores).

/** A model file larger than this is refused before it is read. */
export const MAX_MODEL_BYTES = 512 << 20;

/** A model file's bytes from `url` (absolute), with errors a person can act on that name it
 * as `shown` (what the page or its URL said). */
export async function fetchBytes(url, shown = url) {
  let res;
  try {
    res = await fetch(url);
  } catch {
    // the browser gives no reason (a network error or a refused cross-origin read look alike)
    throw new Error(`${shown} could not be fetched: the host is unreachable, or it is another site ` +
      'that does not allow cross-origin requests (it must send Access-Control-Allow-Origin)');
  }
  if (!res.ok) throw new Error(`${shown}: HTTP ${res.status}`);
  const len = Number(res.headers.get('content-length') || 0);
  if (len > MAX_MODEL_BYTES) throw new Error(`${shown} is ${len} bytes; at most ${MAX_MODEL_BYTES}`);
  const buf = await res.arrayBuffer();
  if (buf.byteLength > MAX_MODEL_BYTES) throw new Error(`${shown} is larger than ${MAX_MODEL_BYTES} bytes`);
  return new Uint8Array(buf);
}

/** The bytes of `url` read straight from the site's cache for `scope`, or null. Only a
 * written site's one complete cache is read, so the bytes are the ones its service worker
 * (sw.js) would serve: its names are `ganscope-lab-<hash> <scope>` for a site (cache-first),
 * `ganscope-lab-dev <scope>` for the repository's page (network first, never read here), and
 * a site has two while a new build installs, when the service worker decides. */
export async function fromCache(url, scope) {
  if (!('caches' in self)) return null;
  const ours = (await caches.keys()).filter((k) => k.startsWith('ganscope-lab-') && k.endsWith(` ${scope}`));
  if (ours.length !== 1 || ours[0].startsWith('ganscope-lab-dev ')) return null;
  const hit = await (await caches.open(ours[0])).match(url);
  return hit && hit.ok ? new Uint8Array(await hit.arrayBuffer()) : null;
}

/** A model's bytes: `{url, shown, scope}` from the site's cache when `scope` is given and the
 * cache has it, else from the network (through the service worker, if any). */
export async function readModel({ url, shown, scope }) {
  const cached = scope ? await fromCache(url, scope).catch(() => null) : null;
  return cached || fetchBytes(url, shown);
}
