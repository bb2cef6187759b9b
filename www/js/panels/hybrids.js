// Hybrids (counterfactuals, Besserve et al.): sample 1 (the current sample) takes the chosen
// channels of a site from sample 2; the channel set is picked by hand, from the influence-map
// gallery, as a whole NMF module, or as a concept group (Li et al.: filters clustered by
// where they fire, or the groups an interpretable training learned, read from the model
// file). Maps, modules and groups are computed in the worker.
import { drawImage, drawHeat, range, canvas } from '../draw.js';
import { fillSites, withProgress } from '../dom.js';

export function hybridsPanel(app) {
  const $ = app.$;
  let chips = [];

  const site = () => app.model.sites.find((s) => s[0] === app.state.hsite);
  const key = () => `${app.model.name}|${app.state.hsite}`;

  function setChannels(list) {
    app.set({ channels: [...new Set(list)].sort((a, b) => a - b) });
  }

  function buildChips() {
    $('channels').replaceChildren();
    chips = [];
    const [, [c]] = site();
    for (let k = 0; k < c; k++) {
      const b = document.createElement('button');
      b.textContent = String(k);
      b.setAttribute('aria-label', `channel ${k}`);
      b.addEventListener('click', () => {
        const on = app.state.channels.includes(k);
        setChannels(on ? app.state.channels.filter((x) => x !== k) : [...app.state.channels, k]);
      });
      $('channels').append(b);
      chips.push(b);
    }
  }

  /** The groups an interpretable training learned for the current site, from the model
   * file's metadata (untrusted: one small whole number per filter, or nothing). */
  function learnedGroups() {
    const lg = app.model.meta?.analysis?.learned_groups;
    const [, [c]] = site();
    if (!lg || lg.site !== app.state.hsite || !Array.isArray(lg.labels) || lg.labels.length !== c) return null;
    if (!lg.labels.every((l) => Number.isInteger(l) && l >= 0 && l < c)) return null;
    return { k: Math.max(...lg.labels) + 1, labels: lg.labels, learned: true };
  }

  // the groups shown: {site, labels, k, seed}, for the locality measure
  let shown = null;

  function resetGroups() {
    $('groups').replaceChildren();
    delete app.measured.groups;
    shown = null;
    resetLocality();
    const g = learnedGroups();
    if (g) showGroups(g);
  }

  function onModel() {
    fillSites($('hybrid-site'), app.model.sites, 'channels', app.state.hsite);
    $('k').value = String(app.state.k);
    $('maps').replaceChildren();
    $('modules').replaceChildren();
    $('modules-run').disabled = true;
    buildChips();
    resetGroups();
  }

  async function render() {
    const st = app.state;
    const m = app.model;
    $('donor').value = String(st.donor);
    chips.forEach((b, k) => b.setAttribute('aria-pressed', String(st.channels.includes(k))));
    $('channels-desc').textContent = `${st.channels.length} of ${chips.length} channels of ` +
      `${st.hsite} from sample 2: ${st.channels.join(', ') || 'none'}`;
    const hybrid = { site: st.hsite, channels: st.channels, donor_seed: st.donor };
    // the donor as the hybrid takes it: its own random path, the same unit edits and moves
    const donor = JSON.parse(app.iv());
    delete donor.path;
    // no channels: the hybrid is sample 1 itself
    const mixIv = st.channels.length ? app.iv({ hybrid }) : app.iv();
    // what this call draws (the state may change while it renders)
    const drawn = `${st.seed}|${st.donor}|${st.hsite}|${st.channels.join(',')}`;
    // sample 1 is the main image (onMain)
    const [two, mix] = await Promise.all([
      app.lab.latestCall('h-two', 'render', { seed: st.donor, n: 1, iv: JSON.stringify(donor), site: '' }),
      app.lab.latestCall('h-mix', 'render', { seed: st.seed, n: 1, iv: mixIv, site: '' }),
    ]);
    if (two) drawImage($('h-two'), two.images, 0, m.channels, m.size);
    if (mix) {
      drawImage($('h-mix'), mix.images, 0, m.channels, m.size);
      document.body.dataset.hybrid = drawn;
    }
  }

  function showMaps(r) {
    $('maps').replaceChildren();
    const px = r.size * r.size;
    const [lo, hi] = range(r.maps, 0, r.maps.length);
    for (let k = 0; k < r.channels; k++) {
      const b = document.createElement('button');
      const c = canvas('', `influence map of channel ${k}`);
      drawHeat(c, r.maps, k * px, r.size, r.size, lo, hi);
      b.append(c, document.createTextNode(String(k)));
      b.setAttribute('aria-label', `influence map of channel ${k}; adds or removes it`);
      b.addEventListener('click', () => chips[k].click());
      $('maps').append(b);
    }
  }

  function showModules(mods) {
    $('modules').replaceChildren();
    const px = mods.size * mods.size;
    for (let k = 0; k < mods.k; k++) {
      const members = mods.labels.flatMap((l, c) => (l === k ? [c] : []));
      const b = document.createElement('button');
      const c = canvas('', `template of module ${k + 1}`);
      drawHeat(c, mods.templates, k * px, mods.size, mods.size, 0, 1);
      const t = document.createElement('span');
      t.textContent = `module ${k + 1}: ${members.length} channels`;
      b.append(c, t);
      b.setAttribute('aria-label', `use module ${k + 1} (${members.length} channels) as the set`);
      b.addEventListener('click', () => setChannels(members));
      $('modules').append(b);
    }
  }

  function resetLocality() {
    $('locality-table').hidden = true;
    $('locality-run').disabled = !shown;
    delete app.measured.locality;
    app.updateShares?.();
  }

  /** Li et al.'s locality of exchanging each shown group, in the table and for export. */
  function showLocality(loc, g) {
    const body = $('locality-table').querySelector('tbody');
    body.replaceChildren();
    const rows = [];
    for (let k = 0; k < g.k; k++) {
      const filters = g.labels.filter((l) => l === k).length;
      if (!filters) continue;
      const leak = loc.outside[k];
      const effect = loc.inside[k];
      rows.push({ site: g.site, group: k + 1, filters, leak, effect, ratio: effect > 0 ? leak / effect : null });
    }
    for (const r of rows) {
      const tr = document.createElement('tr');
      for (const v of [r.group, r.filters, r.leak.toFixed(4), r.effect.toFixed(4), r.ratio === null ? '–' : r.ratio.toFixed(3)]) {
        const td = document.createElement('td');
        td.textContent = String(v);
        tr.append(td);
      }
      body.append(tr);
    }
    $('locality-table').hidden = false;
    app.measure('locality', { site: g.site, labels: g.labels, learned: Boolean(g.learned), ...loc }, rows, g.seed);
  }

  function showGroups(g) {
    $('groups').replaceChildren();
    shown = { ...g, site: app.state.hsite, seed: g.seed ?? app.state.seed };
    resetLocality();
    app.measure('groups', { site: shown.site, groups: g.k, learned: Boolean(g.learned), labels: g.labels },
      g.labels.map((l, filter) => ({ site: shown.site, filter, group: l + 1 })), shown.seed);
    for (let k = 0; k < g.k; k++) {
      const members = g.labels.flatMap((l, c) => (l === k ? [c] : []));
      if (!members.length) continue;
      const b = document.createElement('button');
      b.textContent = `${g.learned ? 'learned ' : ''}group ${k + 1}: ${members.length} filters`;
      b.title = members.join(', ');
      b.setAttribute('aria-label', `use concept group ${k + 1} (filters ${members.join(', ')}) as the set`);
      b.addEventListener('click', () => setChannels(members));
      $('groups').append(b);
    }
  }

  $('hybrid-site').addEventListener('change', (e) => {
    app.state.hsite = e.target.value;
    app.state.channels = [];
    $('maps').replaceChildren();
    $('modules').replaceChildren();
    $('modules-run').disabled = true;
    buildChips();
    resetGroups();
    app.refresh();
  });
  $('donor').addEventListener('change', (e) => {
    const v = Number(e.target.value);
    if (Number.isInteger(v) && v >= 0 && v <= 4294967295) app.set({ donor: v });
  });
  $('channels-none').addEventListener('click', () => setChannels([]));
  $('channels-all').addEventListener('click', () => setChannels(chips.map((_, k) => k)));
  $('influence-run').addEventListener('click', () => withProgress(app, $('influence-run'),
    $('influence-progress'), 'Influence maps', async (onProgress) => {
      const k = key();
      const r = await app.analysis.call('influence', { site: app.state.hsite, pairs: Number($('pairs').value), seed: app.state.seed },
        { onProgress });
      if (k !== key()) return;
      showMaps(r);
      $('modules-run').disabled = false;
    }));
  $('modules-run').addEventListener('click', async () => {
    try {
      const k = Number($('k').value);
      app.state.k = k;
      const mods = await app.analysis.call('modules', { k, seed: app.state.seed });
      showModules(mods);
      app.refresh();
      app.error('');
    } catch (e) {
      app.error(`Modules: ${e.message}`);
    }
  });
  $('groups-run').addEventListener('click', async () => {
    const run = $('groups-run');
    run.disabled = true;
    try {
      const k = key();
      const seed = app.state.seed;
      const g = await app.analysis.call('groups', { site: app.state.hsite, k: Number($('groups-k').value),
        samples: Number($('groups-n').value), seed });
      if (k === key()) showGroups({ ...g, seed });
      app.error('');
    } catch (e) {
      app.error(`Concept groups: ${e.message}`);
    } finally {
      run.disabled = false;
    }
  });
  $('locality-run').addEventListener('click', async () => {
    const run = $('locality-run');
    const g = shown;
    run.disabled = true;
    try {
      const k = key();
      const loc = await app.analysis.call('locality', { site: g.site, labels: g.labels,
        pairs: Number($('locality-pairs').value), seed: g.seed });
      if (k === key() && shown === g) showLocality(loc, g);
      app.error('');
    } catch (e) {
      app.error(`Locality: ${e.message}`);
    } finally {
      run.disabled = !shown;
    }
  });
  /** Sample 1 is the main render. */
  function onMain({ images }) {
    drawImage($('h-one'), images, 0, app.model.channels, app.model.size);
  }

  return { onModel, render, onMain };
}
