// The page's service worker. BUILD names its cache and the files it fills it with when it
// installs (the page, the wasm package, the vendored libraries, the models). This copy, the
// repository's, serves the network first (a new build is seen at once while working on the
// page) and falls back to the cache offline. `ganscope site` rewrites the line for a site:
// its own files with their SHA-256, a cache named by their content hash, served cache-first, so a warm visit
// reads nothing from the network and a site written anew (a new hash, so a new sw.js)
// replaces the old cache on the next visit; the page then reloads once (js/app.js).
const BUILD = {"cache":"ganscope-lab-dev","cacheFirst":false,"files":["./","index.html","style.css","js/app.js","js/boot.js","js/fetch.js","js/lab.js","js/worker.js","js/draw.js","js/state.js","js/dom.js","js/share.js","js/keys.js","js/panels/paths.js","js/panels/units.js","js/panels/hybrids.js","js/panels/directions.js","pkg/ganscope_web.js","pkg/ganscope_web_bg.wasm","vendor/chart.js-4.5.1/chart.umd.min.js","models/manifest.json","models/rpgan-colored-mnist.safetensors","models/gan-colored-mnist.safetensors","models/classifier-colored-mnist.safetensors","models/dcgan-digiface.safetensors"]};

// caches belong to an origin, not a scope: the name carries the scope, so that two labs on
// one origin (user.github.io/a/ and /b/) never delete each other's
const CACHE = `${BUILD.cache} ${self.registration.scope}`;
const OURS = (k) => k.startsWith('ganscope-lab-') && k.endsWith(` ${self.registration.scope}`);

self.addEventListener('install', (e) => {
  // 'reload': no stale copy from the browser's HTTP cache gets cached; a site's files must
  // also match the SHA-256 written for them (a host or CDN edge still serving an old file, or
  // an upload half done, fails the install instead of being cached under the new name)
  const get = (f) => new Request(f, { cache: 'reload', integrity: BUILD.integrity?.[f] || '' });
  e.waitUntil(caches.open(CACHE).then(async (c) => {
    // a site's files all or none (a failed install leaves the previous worker and its whole
    // cache in charge); the repository's one by one, a missing file costing only itself
    const one = (f) => c.add(get(f)).catch(() => {});
    if (BUILD.cacheFirst) {
      await c.addAll(BUILD.files.filter((f) => f !== './').map(get));
      await one('./'); // a host may not serve a folder's index
    } else {
      await Promise.all(BUILD.files.map(one));
    }
  }).then(() => self.skipWaiting()));
});

self.addEventListener('activate', (e) => {
  e.waitUntil(caches.keys()
    .then((keys) => Promise.all(keys.filter((k) => OURS(k) && k !== CACHE).map((k) => caches.delete(k))))
    .then(() => self.clients.claim()));
});

/** A copy from the network, kept in the cache when it worked. */
async function network(cache, request) {
  const res = await fetch(request);
  if (res.ok) cache.put(request, res.clone());
  return res;
}

self.addEventListener('fetch', (e) => {
  const url = new URL(e.request.url);
  if (e.request.method !== 'GET' || url.origin !== location.origin) return;
  // the page is one file whatever its query (the view's state)
  const page = e.request.mode === 'navigate' || url.pathname.endsWith('/') || url.pathname.endsWith('.html');
  e.respondWith((async () => {
    const cache = await caches.open(CACHE);
    if (BUILD.cacheFirst) {
      const hit = await cache.match(e.request, { ignoreSearch: page, ignoreVary: page });
      return hit || network(cache, e.request);
    }
    try {
      return await network(cache, e.request);
    } catch (err) {
      const hit = await cache.match(e.request, { ignoreSearch: page });
      if (hit) return hit;
      throw err;
    }
  })());
});
