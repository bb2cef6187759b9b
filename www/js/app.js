// The lab page: loads a model into the worker (js/worker.js), keeps the view's state in the
// URL (js/state.js) and draws the sample; the panels (js/panels/*.js) do the rest.
import { AnalysisClient, LabClient } from './lab.js';
import { drawImage } from './draw.js';
import * as urlState from './state.js';
import { pathsPanel } from './panels/paths.js';
import { unitsPanel } from './panels/units.js';
import { hybridsPanel } from './panels/hybrids.js';
import { directionsPanel } from './panels/directions.js';
import { link, shareBar } from './share.js';
import { roving } from './keys.js';
import { LOCAL, parsed, request, site, started, worker } from './boot.js';
import { MAX_MODEL_BYTES } from './fetch.js';

// when this script started (ms after navigation start); js/boot.js ran before it
const scriptStart = performance.now();
const $ = (id) => document.getElementById(id);

const BUNDLED = site.models;
const app = {
  lab: new LabClient(worker),
  // analyses run in a worker of their own (js/lab.js), so renders never wait for them
  analysis: new AnalysisClient(),
  state: parsed.state,
  model: null,
  statusSeq: 0,
  classifier: null,
  /** What the analyses measured for this model, by name: `{json, rows, seed, link}`
   * (js/share.js); `measure(what, json, rows, seed)` records one. */
  measured: {},
  measure(what, json, rows, seed = app.state.seed) {
    app.measured[what] = { json, rows, seed, link: link(app) };
    app.updateShares?.();
  },
  $,
  /** Shows `msg` (text) as the page's error; empty clears it. */
  error(msg) {
    $('error').textContent = msg || '';
    $('error').hidden = !msg;
    delete $('error').dataset.render;
  },
  /** Shows `msg` in the status line; `statusSeq` counts the messages. */
  status(msg) {
    $('status').textContent = msg;
    app.statusSeq += 1;
  },
  /** Interventions of the main sample: path, edits and moves along directions (`extra`
   * adds to them, and its `shifts` replace the state's moves). */
  iv(extra = {}) {
    const iv = { ...extra };
    if (app.state.path && app.model.rpgan) iv.path = app.state.path;
    if (app.state.edits.length) iv.edits = app.state.edits;
    const shifts = extra.shifts || panels.directions.shifts();
    if (shifts.length) iv.shifts = shifts;
    else delete iv.shifts;
    return JSON.stringify(iv);
  },
  /** The model, seed and interventions of the main image (tests wait for it to be drawn). */
  viewKey() {
    return app.model ? `${app.model.name}|${app.state.seed}|${app.iv()}` : '';
  },
  /** Merges `patch` into the state and redraws. */
  set(patch) {
    Object.assign(app.state, patch);
    refresh();
  },
  /** The classifier file's bytes (fetched once; null when it cannot be had). */
  async classifierBytes() {
    if (app.classifier === null) {
      try {
        if (!site.classifier) throw new Error('no classifier');
        app.classifier = new Uint8Array(await (await fetch(`models/${site.classifier}`)).arrayBuffer());
      } catch {
        app.classifier = new Uint8Array();
      }
    }
    return app.classifier;
  },
};
window.ganscope = app; // for the console and the browser tests

const panels = {
  paths: pathsPanel(app), units: unitsPanel(app), hybrids: hybridsPanel(app),
  directions: directionsPanel(app),
};

const canvases = (sel) => Array.from(document.querySelectorAll(sel));
/** `list` in rows of `n`. */
const rowsOf = (list, n) => Array.from({ length: Math.ceil(list.length / n) }, (_, i) => list.slice(i * n, i * n + n));
const image = { what: 'image', label: 'Image', rows: () => [[$('main')]] };
const shares = [
  shareBar(app, $('panel-sample'), 'sample', { images: [image] }),
  shareBar(app, $('panel-paths'), 'paths', {
    images: [{ what: 'grid', label: 'Path grid', rows: () => panels.paths.gridRows() }],
    numbers: [{ what: 'responsibility', label: 'Bucket responsibility' }],
  }),
  shareBar(app, $('panel-units'), 'units', {
    embedWith: ['panel-sample'],
    images: [image, { what: 'top-samples', label: 'Top samples', rows: () => [canvases('#top canvas')] }],
    numbers: [{ what: 'ace', label: 'Causal effect' }],
  }),
  shareBar(app, $('panel-hybrids'), 'hybrids', {
    images: [
      { what: 'hybrid', label: 'Samples and hybrid', rows: () => [[$('h-one'), $('h-two'), $('h-mix')]] },
      { what: 'influence-maps', label: 'Influence maps', rows: () => rowsOf(canvases('#maps canvas'), 16) },
      { what: 'modules', label: 'Module templates', rows: () => [canvases('#modules canvas')] },
    ],
    numbers: [{ what: 'groups', label: 'Concept groups' }, { what: 'locality', label: 'Group locality' }],
  }),
  shareBar(app, $('panel-directions'), 'directions', {
    embedWith: ['panel-sample'],
    images: [image, { what: 'sweep', label: 'Sweep', rows: () => [canvases('#sweep canvas')] }],
  }),
];
/** Enables what can be shared now (the page calls it after each change). */
app.updateShares = () => shares.forEach((s) => s.update());

function describeModel(r) {
  const g = r.meta.generator;
  const blocks = g.buckets.map((b) => b.blocks);
  return {
    meta: r.meta,
    sites: r.sites,
    concepts: r.concepts,
    channels: g.channels,
    size: g.image_size,
    blocks,
    rpgan: blocks.some((m) => m > 1),
  };
}

let drawn = 0;
async function renderMain() {
  const st = app.state;
  const site = st.panel === 'units' && !st.embed ? st.site : st.embed === 'units' ? st.site : '';
  const view = app.viewKey();
  // the main image goes before any other waiting work in the worker
  const r = await app.lab.latestCall('main', 'render', { seed: st.seed, n: 1, iv: app.iv(), site }, 0);
  if (!r) return; // replaced by a newer call
  const m = app.model;
  drawImage($('main'), r.images, 0, m.channels, m.size);
  const path = st.path && m.rpgan ? `, path ${st.path.join('-')}` : '';
  const edits = st.edits.length ? `, ${st.edits.length} unit edit(s)` : '';
  $('main').setAttribute('aria-label', `generated sample: seed ${st.seed}${path}${edits}`);
  $('main-desc').textContent = `seed ${st.seed}${path}${edits}`;
  for (const p of Object.values(panels)) if (p.onMain) p.onMain(r);
  drawn += 1;
  if (drawn === 1 && app.timings) app.timings.firstImage = performance.now();
  document.body.dataset.drawn = String(drawn);
  // what the main image shows; equal to app.viewKey() once the latest state is drawn
  document.body.dataset.view = view;
}

/** Writes the URL and redraws what the state shows. */
async function refresh() {
  if (!app.model) return;
  const st = app.state;
  history.replaceState(null, '', urlState.format(st));
  $('seed').value = String(st.seed);
  for (const p of urlState.PANELS) {
    const on = p === st.panel;
    $(`tab-${p}`).setAttribute('aria-selected', String(on));
    $(`panel-${p}`).hidden = st.embed ? st.embed !== p : !on;
  }
  $('panel-sample').hidden = Boolean(st.embed) && !['sample', 'units', 'directions'].includes(st.embed);
  $('embed-link').hidden = !st.embed;
  $('embed-full').href = link(app);
  // a message shown while this redraw runs (an analysis cancelled) is not replaced by "ready"
  const seq = app.statusSeq;
  try {
    // moves along directions in the state need the directions before the image
    if (st.moves.length) await panels.directions.ensure();
    const work = [renderMain()];
    const shown = st.embed || st.panel;
    if (panels[shown]) work.push(panels[shown].render());
    await Promise.all(work);
    // a render that worked clears the error of one that did not
    if ($('error').dataset.render) app.error('');
    if (app.statusSeq === seq) app.status(`ready: ${app.model.name}`);
    app.updateShares();
    document.body.dataset.ready = '1';
  } catch (e) {
    app.error(e.message);
    $('error').dataset.render = '1';
  }
}
app.refresh = refresh;

/** With no model to show: no panel with empty controls. */
function hidePanels() {
  for (const p of urlState.PANELS) $(`panel-${p}`).hidden = true;
  $('panel-sample').hidden = true;
}

/** Loads the model named `name` into the worker, `from` `{bytes}` (a promise) or `{request}`
 * (js/boot.js: the worker reads it); on failure the previous model stays loaded and working. */
async function load(name, from, source) {
  app.status(`loading ${name}…`);
  document.body.dataset.ready = '';
  try {
    let args = { request: from.request };
    let transfer = [];
    let kept = null;
    if (!from.request) {
      const data = await from.bytes;
      kept = data.slice(); // for the analyses' worker (the load transfers `data`)
      args = { bytes: data };
      transfer = [data.buffer];
    }
    const r = await app.lab.call('load', { ...args, backend: app.state.backend, name }, { transfer });
    app.analysis.cancel();
    // the analyses follow the images onto WebGPU by the worker's own "auto" choice: never a
    // software adapter (forced for the images with ?backend=gpu), which would share the CPU
    // with them and stall the browser's GPU process, and with it the page's frames and input
    app.analysis.setModel(r.modelBytes || kept, name, r.kind === 'gpu' ? 'auto' : 'cpu');
    r.meta = JSON.parse(r.meta);
    const model = { ...describeModel(r), name };
    app.timings = { ...started, script: scriptStart, ...r.timings };
    fixState(model);
    app.model = model;
    app.state.model = source;
    const local = source.startsWith(LOCAL);
    $('model-note').hidden = !local;
    $('model-note').textContent = local ? 'A local file: a link to this view names the file but cannot ' +
      'open it. To share the view, put the file on a host that allows cross-origin requests and ' +
      'open it as ?model=URL, or use a bundled model.' : '';
    // the card is `ganscope info`'s text (ganscope_model::card); file strings stay text
    $('card').textContent = r.imported ? `imported in this page from a PyTorch checkpoint:\n${r.imported}\n\n${r.card}` : r.card;
    $('backend-info').textContent = `${r.backend} (${r.reason})`;
    // the analyses' worker says where it runs once the first analysis loads it
    app.analysis.onBackend = (b) => {
      if (app.model === model) $('backend-info').textContent = `${r.backend} (${r.reason}); analyses: ${b}`;
    };
    document.body.dataset.backend = r.kind;
    app.measured = {};
    app.error('');
    for (const p of Object.values(panels)) p.onModel();
    if (model.rpgan && !app.state.path) {
      app.state.path = await app.lab.call('randomPath', { seed: app.state.seed });
    }
    await refresh();
  } catch (e) {
    app.error(`Could not load ${name}: ${e.message}`);
    // the menu names what is still loaded
    $('bundled').value = BUNDLED.some((b) => b.name === app.model?.name) ? app.model.name : '';
    if (!app.model) hidePanels();
    app.status(app.model ? `ready: ${app.model.name}` : 'no model loaded');
    document.body.dataset.ready = app.model ? '1' : '';
  }
}

/** Makes the state fit a newly loaded model; what cannot be kept is dropped. */
function fixState(m) {
  const st = app.state;
  const names = m.sites.map((s) => s[0]);
  if (st.path && (st.path.length !== m.blocks.length || st.path.some((b, i) => b >= m.blocks[i]))) {
    st.path = null;
  }
  if (!m.rpgan) st.path = null;
  if (!names.includes(st.site)) st.site = names[Math.min(1, names.length - 1)];
  // a model with learned concept groups opens the hybrids on their site, unless the URL it
  // came with names another site
  const learned = m.meta.analysis?.learned_groups?.site;
  if (names.includes(learned) && (app.model || !names.includes(st.hsite))) {
    if (st.hsite !== learned) st.channels = [];
    st.hsite = learned;
  }
  if (!names.includes(st.hsite)) st.hsite = names[Math.min(2, names.length - 1)];
  const hc = m.sites[names.indexOf(st.hsite)][1][0];
  st.channels = st.channels.filter((c) => c < hc);
  if (st.edits.some((e) => !names.includes(e && e.site))) st.edits = [];
  if (st.dsite && !names.includes(st.dsite)) st.dsite = '';
}

function loadSource(source) {
  if (source.startsWith(LOCAL)) {
    // fails as any load does: the loaded model (if any) stays, else no panel shows
    const name = source.slice(LOCAL.length);
    return load(name, { bytes: Promise.reject(new Error('it was opened from a local file, which a link ' +
      'cannot open. Open it with "Open a file", or put it on a host that allows cross-origin ' +
      'requests and link it as ?model=URL.')) }, source);
  }
  const bundled = BUNDLED.find((b) => b.name === source);
  $('bundled').value = bundled ? bundled.name : '';
  // the worker reads it (the first model's read began in js/boot.js)
  return load(bundled ? bundled.name : source, { request: request(source) }, source);
}

function loadFile(file) {
  if (file.size > MAX_MODEL_BYTES) {
    app.error(`${file.name} is ${file.size} bytes; at most ${MAX_MODEL_BYTES}`);
    return Promise.resolve();
  }
  $('bundled').value = '';
  // a local file cannot be put in a URL: the URL says so (file:NAME) instead of naming
  // another model
  return load(file.name, { bytes: file.arrayBuffer().then((b) => new Uint8Array(b)) }, `${LOCAL}${file.name}`);
}
app.loadFile = loadFile;

function wire() {
  for (const b of BUNDLED) {
    const o = document.createElement('option');
    o.value = b.name;
    o.textContent = b.title;
    $('bundled').append(o);
  }
  const other = document.createElement('option');
  other.value = '';
  other.textContent = '(a file or URL)';
  other.disabled = true;
  $('bundled').append(other);
  $('bundled').addEventListener('change', (e) => {
    if (e.target.value) loadSource(e.target.value);
  });
  $('file').addEventListener('change', (e) => {
    if (e.target.files[0]) loadFile(e.target.files[0]);
  });
  const drop = $('drop');
  drop.addEventListener('dragover', (e) => { e.preventDefault(); drop.classList.add('over'); });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => {
    e.preventDefault();
    drop.classList.remove('over');
    const f = e.dataTransfer.files[0];
    if (f) loadFile(f);
  });
  drop.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' || e.key === ' ') $('file').click();
  });
  $('backend').value = app.state.backend;
  $('backend').addEventListener('change', (e) => {
    app.state.backend = e.target.value;
    const picked = $('file').files[0];
    if (app.state.model === `${LOCAL}${picked?.name}`) loadFile(picked);
    else loadSource(app.state.model);
  });
  const setSeed = (s) => {
    if (Number.isInteger(s) && s >= 0 && s <= 4294967295) app.set({ seed: s });
  };
  $('seed').addEventListener('change', (e) => setSeed(Number(e.target.value)));
  $('seed-prev').addEventListener('click', () => setSeed(app.state.seed - 1));
  $('seed-next').addEventListener('click', () => setSeed(app.state.seed + 1));
  for (const p of urlState.PANELS) {
    $(`tab-${p}`).addEventListener('click', () => app.set({ panel: p }));
  }
  // the tabs are one Tab stop; the arrow keys choose a tab (WAI-ARIA tabs, automatic activation)
  roving(document.querySelector('.tabs'), {
    preferred: () => $(`tab-${app.state.panel}`),
    onMove: (b) => app.set({ panel: b.dataset.panel }),
    selected: true,
  });
  // so are the galleries of buttons
  for (const id of ['units', 'channels', 'maps', 'modules', 'groups']) roving($(id));
  roving($('grid'), { preferred: () => $('grid').querySelector('button[aria-pressed="true"]') });
  if (app.state.embed) document.body.classList.add('embed');
}

wire();
if (parsed.problems.length) app.error(parsed.problems.join('\n'));
if ('serviceWorker' in navigator) {
  // a site written anew gets a new worker on the next visit, which takes over once it has
  // cached the new files: reload once onto them (the view is in the URL)
  const had = navigator.serviceWorker.controller;
  navigator.serviceWorker.addEventListener('controllerchange', () => { if (had) location.reload(); });
  navigator.serviceWorker.register('sw.js').catch(() => {});
}
if (site.problem && !app.state.model) {
  app.error(site.problem);
  hidePanels();
  app.status('no model loaded');
} else {
  await loadSource(app.state.model);
}
if (parsed.problems.length && !$('error').textContent) app.error(parsed.problems.join('\n'));
