// Offline support: every request of the page goes to the network first (so a new build is
// seen at once) and falls back to the cache, which install fills with the page, the wasm
// package, the vendored libraries and the bundled models (classrooms with a flaky network).
const CACHE = 'ganscope-lab-v1';
const FILES = [
  './', 'index.html', 'style.css', 'js/app.js', 'js/lab.js', 'js/worker.js', 'js/draw.js',
  'js/state.js', 'js/dom.js', 'js/panels/paths.js', 'js/panels/units.js',
  'js/panels/hybrids.js', 'js/panels/directions.js', 'pkg/ganscope_web.js', 'pkg/ganscope_web_bg.wasm',
  'vendor/chart.js-4.5.1/chart.umd.min.js', 'models/rpgan-colored-mnist.safetensors',
  'models/gan-colored-mnist.safetensors', 'models/classifier-colored-mnist.safetensors',
  'models/dcgan-digiface.safetensors',
];

self.addEventListener('install', (e) => {
  // one by one: a file the host lacks (e.g. a host that does not serve ./) costs only itself
  e.waitUntil(caches.open(CACHE)
    .then((c) => Promise.all(FILES.map((f) => c.add(f).catch(() => {}))))
    .then(() => self.skipWaiting()));
});

self.addEventListener('activate', (e) => {
  e.waitUntil(caches.keys()
    .then((keys) => Promise.all(keys.filter((k) => k !== CACHE).map((k) => caches.delete(k))))
    .then(() => self.clients.claim()));
});

self.addEventListener('fetch', (e) => {
  const url = new URL(e.request.url);
  if (e.request.method !== 'GET' || url.origin !== location.origin) return;
  e.respondWith((async () => {
    const cache = await caches.open(CACHE);
    try {
      const res = await fetch(e.request);
      if (res.ok) cache.put(e.request, res.clone());
      return res;
    } catch (err) {
      const hit = await cache.match(e.request, { ignoreSearch: url.pathname.endsWith('/') || url.pathname.endsWith('.html') });
      if (hit) return hit;
      throw err;
    }
  })());
});
