// What the first image waits for, started before the rest of the page's script has loaded:
// the lab's worker (its wasm compile), the site's model list, then the fetch of the model the
// URL opens. index.html runs this module on its own, ahead of js/app.js's module graph; app.js
// imports the same instance and takes what it started.
import * as urlState from './state.js';

/** When the boot started and when it had the model list (ms after navigation start). */
export const started = { boot: performance.now(), manifest: 0 };

/** The lab's worker (js/worker.js), started at once: js/lab.js's LabClient adopts it. */
export const worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });

/** The site's models (models/manifest.json, written by `ganscope site`): `{models: [{name,
 * title, file}], open, view, classifier}`; a site without one lists nothing and says so. */
async function readManifest() {
  try {
    const res = await fetch('models/manifest.json');
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    const m = await res.json();
    if (!Array.isArray(m.models) || m.models.some((e) => typeof e?.name !== 'string' || typeof e.file !== 'string')) {
      throw new Error('it has no list of models with names and files');
    }
    return {
      models: m.models.map((e) => ({ ...e, title: String(e.title || e.name) })),
      open: String(m.open || m.models[0]?.name || ''),
      view: String(m.view || ''),
      classifier: m.classifier ? String(m.classifier) : '',
    };
  } catch (e) {
    return { models: [], open: '', view: '', classifier: '', problem: `The site's list of models (models/manifest.json) could not be read (${e.message}): open a model file, or a model URL as ?model=URL.` };
  }
}

/** What a link cannot open: a file opened from this computer. */
export const LOCAL = 'file:';

/** How the worker reads the model `source` (a listed name or a URL): `{url, shown, scope}`
 * (js/fetch.js's readModel); a listed model of a site its service worker controls is read
 * from the site's cache. */
export function request(source) {
  const listed = site.models.find((m) => m.name === source);
  const shown = listed ? `models/${listed.file}` : source;
  let url = shown;
  try {
    url = new URL(shown, location.href).href; // the worker's base is js/
  } catch {
    // not a URL: the fetch says so
  }
  return {
    url,
    shown,
    scope: listed && navigator.serviceWorker?.controller ? new URL('./', location.href).href : '',
  };
}

export const site = await readManifest();
started.manifest = performance.now();

/** The URL's state; a URL without a query opens the site's chosen view of its chosen model. */
export const parsed = urlState.parse(location.search || (site.view ? `?${site.view}` : ''), { model: site.open });

// the worker reads the first model while the rest of the page's script loads
if (parsed.state.model && !parsed.state.model.startsWith(LOCAL)) {
  worker.postMessage({ op: 'prefetch', args: request(parsed.state.model) });
}
