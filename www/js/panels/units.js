// Units (GAN Dissection): every unit of a site as a heat map of its activation in the current
// sample, captioned with its best concept's IoU (colour models); choosing a unit ablates or
// inserts it, optionally only inside a region painted on the sample (GANPaint-style); focusing
// a unit shows its top-activating samples; the chosen units' causal effect on a concept (ACE)
// is measured in the worker.
import { drawImage, drawHeat, range, canvas } from '../draw.js';
import { fillSites } from '../dom.js';

// unit statistics, IoU labels and top samples come from this many samples of seed 0
const STATS_SAMPLES = 64;
const TOP = 6;
// GAN Dissection labels a unit only when its best IoU passes 0.04
const IOU_MIN = 0.04;

const isZero = (v) => (Array.isArray(v) ? v.every((x) => x === 0) : v === 0 || v === undefined);

export function unitsPanel(app) {
  const $ = app.$;
  let cards = [];
  // the strength chosen on the slider, kept while no unit is edited
  let chosen = 1;
  let stats = null; // {key, units, labels, images}
  let pending = null;
  let mask = null; // painted region at image resolution (Float32Array S*S), or null
  let painting = false;

  const site = () => app.model.sites.find((s) => s[0] === app.state.site);

  /** The current site's edits as sets. */
  function current() {
    const out = { ablate: [], insert: [], strength: chosen, region: null };
    for (const e of app.state.edits) {
      if (!e || e.site !== app.state.site) continue;
      (isZero(e.value) ? out.ablate : out.insert).push(...e.units);
      if (typeof e.strength === 'number') out.strength = e.strength;
      if (e.region) out.region = e.region;
    }
    return out;
  }

  function regionOf() {
    if (!mask) return null;
    const [, [, h, w]] = site();
    const s = app.model.size;
    const data = [];
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        let sum = 0;
        let count = 0;
        for (let py = Math.floor((y * s) / h); py < Math.floor(((y + 1) * s) / h); py++) {
          for (let px = Math.floor((x * s) / w); px < Math.floor(((x + 1) * s) / w); px++) {
            sum += mask[py * s + px];
            count += 1;
          }
        }
        data.push(Math.round((100 * sum) / Math.max(1, count)) / 100);
      }
    }
    return { kind: 'mask', height: h, width: w, data };
  }

  /** Sets the current site's edits from sets (edits at other sites are kept). */
  async function apply({ ablate, insert, strength }) {
    if (insert.length) await ensureStats();
    const edits = app.state.edits.filter((e) => e && e.site !== app.state.site);
    const base = { site: app.state.site, strength };
    const region = regionOf();
    if (region) base.region = region;
    if (ablate.length) edits.push({ ...base, units: [...ablate].sort((a, b) => a - b), value: 0 });
    if (insert.length) {
      const units = [...insert].sort((a, b) => a - b);
      edits.push({ ...base, units, value: units.map((u) => stats.units[u].quantiles[2]) });
    }
    app.set({ edits });
  }

  async function ensureStats() {
    const key = `${app.model.name}|${app.state.site}`;
    if (stats && stats.key === key) return stats;
    if (!pending || pending.key !== key) {
      pending = { key, promise: (async () => {
        const u = await app.analysis.call('units', { site: app.state.site, n: STATS_SAMPLES, seed: 0, topK: TOP, iv: '' });
        const r = await app.lab.call('render', { seed: 0, n: STATS_SAMPLES, iv: '', site: '' });
        return { key, units: u.units, labels: u.labels, images: r.images };
      })() };
    }
    const s = await pending.promise;
    if (s.key === key) stats = s;
    return s;
  }

  async function toggle(u) {
    const mode = document.querySelector('input[name="unit-mode"]:checked').value;
    const cur = current();
    const had = cur.ablate.includes(u) || cur.insert.includes(u);
    cur.ablate = cur.ablate.filter((x) => x !== u);
    cur.insert = cur.insert.filter((x) => x !== u);
    if (!had) {
      if (mode === 'insert') await ensureStats();
      cur[mode].push(u);
    }
    apply(cur);
  }

  function showTop(u) {
    $('top-unit').textContent = String(u);
    $('top').replaceChildren();
    if (!stats || !stats.units[u]) return;
    for (const i of stats.units[u].top) {
      const c = canvas('', `sample ${i} of seed 0, among the strongest for unit ${u}`);
      drawImage(c, stats.images, i, app.model.channels, app.model.size);
      $('top').append(c);
    }
  }

  function buildCards() {
    $('units').replaceChildren();
    cards = [];
    const [, [c]] = site();
    for (let u = 0; u < c; u++) {
      const b = document.createElement('button');
      const cv = canvas('', `activation of unit ${u}`);
      const cap = document.createElement('span');
      cap.textContent = `unit ${u}`;
      b.append(cv, cap);
      b.addEventListener('click', () => toggle(u));
      b.addEventListener('focus', () => showTop(u));
      b.addEventListener('mouseenter', () => showTop(u));
      $('units').append(b);
      cards.push({ b, cv, cap });
    }
  }

  function drawMask() {
    const o = $('brush-overlay');
    const s = app.model.size;
    o.width = s;
    o.height = s;
    const rgba = new Uint8ClampedArray(s * s * 4);
    if (mask) {
      for (let p = 0; p < s * s; p++) if (mask[p] > 0) rgba.set([91, 60, 196, 255], 4 * p);
    }
    o.getContext('2d').putImageData(new ImageData(rgba, s, s), 0, 0);
  }

  /** The painted mask from a region in the URL (nearest upsampling). */
  function maskFrom(region) {
    if (!region || region.kind !== 'mask') return null;
    const s = app.model.size;
    const m = new Float32Array(s * s);
    for (let y = 0; y < s; y++) {
      for (let x = 0; x < s; x++) {
        const v = region.data[Math.floor((y * region.height) / s) * region.width + Math.floor((x * region.width) / s)];
        m[y * s + x] = v > 0 ? 1 : 0;
      }
    }
    return m;
  }

  function onModel() {
    fillSites($('unit-site'), app.model.sites, 'units', app.state.site);
    $('ace-concept').replaceChildren(...app.model.concepts.map((name, i) => {
      const o = document.createElement('option');
      o.value = String(i);
      o.textContent = name;
      return o;
    }));
    $('ace-concept').value = '1'; // stroke
    // the rule segmenter's concepts fit digits; elsewhere they are only colours
    $('ace-note').hidden = /mnist/.test(app.model.meta.dataset?.name || '');
    stats = null;
    mask = maskFrom(current().region);
    buildCards();
    drawMask();
  }

  async function render() {
    const cur = current();
    chosen = cur.strength;
    $('unit-strength').value = String(cur.strength);
    cards.forEach(({ b }, u) => {
      const a = cur.ablate.includes(u);
      const i = cur.insert.includes(u);
      b.className = a ? 'ablate' : i ? 'insert' : '';
      b.setAttribute('aria-pressed', String(a || i));
      b.setAttribute('aria-label', `unit ${u}${a ? ', ablated' : i ? ', inserted' : ''}`);
    });
    const s = await ensureStats();
    if (s.key !== `${app.model.name}|${app.state.site}`) return;
    cards.forEach(({ cap }, u) => {
      const l = s.labels && s.labels[u];
      cap.textContent = l && l[1] >= IOU_MIN ? `${u}: ${l[0]} ${l[1].toFixed(2)}` : `unit ${u}`;
    });
    $('units-desc').textContent = `${cards.length} units; heat maps of the current sample, ` +
      `scaled to each unit's 1st-99th percentile over ${STATS_SAMPLES} samples` +
      (s.labels ? '; captions: the concept with the best IoU where it is at least 0.04 (rule segmenter)' : '') +
      `. ${cur.ablate.length} ablated, ${cur.insert.length} inserted` +
      (cur.region ? ', inside the painted region.' : '.');
  }

  /** Draws the heat maps from the main render's activations of the site. */
  function onMain({ site: acts }) {
    if (!acts || !cards.length) return;
    const [, [c, h, w]] = site();
    if (acts.length !== c * h * w) return;
    for (let u = 0; u < c; u++) {
      const q = stats && stats.units[u] ? stats.units[u].quantiles : null;
      const [lo, hi] = q ? [q[0], q[2]] : range(acts, u * h * w, h * w);
      drawHeat(cards[u].cv, acts, u * h * w, h, w, lo, hi);
    }
  }

  function paintAt(e) {
    const o = $('brush-overlay');
    const s = app.model.size;
    const r = o.getBoundingClientRect();
    const cx = ((e.clientX - r.left) / r.width) * s;
    const cy = ((e.clientY - r.top) / r.height) * s;
    const rad = Number($('brush').value);
    if (!mask) mask = new Float32Array(s * s);
    for (let y = Math.max(0, Math.floor(cy - rad)); y < Math.min(s, Math.ceil(cy + rad)); y++) {
      for (let x = Math.max(0, Math.floor(cx - rad)); x < Math.min(s, Math.ceil(cx + rad)); x++) {
        if ((x + 0.5 - cx) ** 2 + (y + 0.5 - cy) ** 2 <= rad * rad) mask[y * s + x] = 1;
      }
    }
    drawMask();
    apply(current());
  }

  $('unit-site').addEventListener('change', (e) => {
    app.state.site = e.target.value;
    stats = null;
    mask = maskFrom(current().region);
    buildCards();
    drawMask();
    app.refresh();
  });
  $('unit-strength').addEventListener('change', (e) => {
    chosen = Number(e.target.value);
    apply({ ...current(), strength: chosen });
  });
  $('ablate-all').addEventListener('click', () => {
    apply({ ...current(), ablate: cards.map((_, u) => u), insert: [] });
  });
  $('clear-edits').addEventListener('click', () => {
    apply({ ...current(), ablate: [], insert: [] });
  });
  $('clear-region').addEventListener('click', () => {
    mask = null;
    rect = null;
    drawMask();
    apply(current());
  });
  $('ace-run').addEventListener('click', async () => {
    const cur = current();
    const units = [...new Set([...cur.ablate, ...cur.insert])].sort((a, b) => a - b);
    const concept = Number($('ace-concept').value);
    const n = Number($('ace-n').value);
    $('ace-run').disabled = true;
    try {
      const e = await app.analysis.call('ace', { site: app.state.site, units, concept,
        n, seed: 0 });
      const pct = (v) => `${(100 * v).toFixed(1)}%`;
      const what = { site: app.state.site, units, concept: app.model.concepts[concept], samples: n };
      const nums = { base: e.base, ablated: e.ablated, inserted: e.inserted, ace: e.ace, ablation_effect: e.ablation_effect };
      // ACE is measured over the samples of seed 0 (as the unit statistics are)
      app.measure('ace', { ...what, ...nums }, [{ ...what, units: units.join(' '), ...nums }], 0);
      $('ace-out').textContent = `${app.model.concepts[concept]} at ${app.state.site}, units ` +
        `${units.join(', ')}: ${pct(e.base)} of the pixels as drawn, ${pct(e.ablated)} ablated, ` +
        `${pct(e.inserted)} inserted; ACE ${e.ace.toFixed(3)}, ablation removes ${pct(e.ablation_effect)}.`;
      app.error('');
    } catch (e) {
      app.error(`Causal effect: ${e.message}`);
    } finally {
      $('ace-run').disabled = false;
    }
  });
  $('paint').addEventListener('change', (e) => {
    const o = $('brush-overlay');
    o.parentElement.classList.toggle('painting', e.target.checked);
    // by keyboard, the region is a rectangle: it is focusable while painting
    if (e.target.checked) {
      o.tabIndex = 0;
      o.removeAttribute('aria-hidden');
    } else {
      o.removeAttribute('tabindex');
      o.setAttribute('aria-hidden', 'true');
    }
  });
  // the keyboard's region: arrow keys move a rectangle by a pixel, with Shift they size it
  let rect = null;
  $('brush-overlay').addEventListener('keydown', (e) => {
    const step = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] }[e.key];
    if (!step) return;
    e.preventDefault();
    const s = app.model.size;
    if (!rect || rect.x + rect.w > s || rect.y + rect.h > s) {
      const q = Math.floor(s / 4);
      rect = { x: q, y: q, w: s - 2 * q, h: s - 2 * q };
    }
    if (e.shiftKey) {
      rect.w = Math.min(s - rect.x, Math.max(1, rect.w + step[0]));
      rect.h = Math.min(s - rect.y, Math.max(1, rect.h + step[1]));
    } else {
      rect.x = Math.min(s - rect.w, Math.max(0, rect.x + step[0]));
      rect.y = Math.min(s - rect.h, Math.max(0, rect.y + step[1]));
    }
    mask = new Float32Array(s * s);
    for (let y = rect.y; y < rect.y + rect.h; y++) mask.fill(1, y * s + rect.x, y * s + rect.x + rect.w);
    $('brush-overlay').setAttribute('aria-label', `the region: ${rect.w}x${rect.h} pixels at ` +
      `(${rect.x}, ${rect.y}); arrow keys move it, Shift with arrow keys sizes it`);
    drawMask();
    apply(current());
  });
  const o = $('brush-overlay');
  o.addEventListener('pointerdown', (e) => {
    painting = true;
    o.setPointerCapture(e.pointerId);
    paintAt(e);
  });
  o.addEventListener('pointermove', (e) => { if (painting) paintAt(e); });
  o.addEventListener('pointerup', () => { painting = false; });
  return { onModel, render, onMain };
}
