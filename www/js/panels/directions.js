// Directions (SeFa, Shen & Zhou 2021; GANSpace, Härkönen et al. 2020): directions in the
// latent space found without labels, each a slider that moves the sample along it. The
// worker finds them on candle as `ganscope analyze directions` does; a move is a `shifts`
// intervention, so it composes with paths, unit edits and hybrids, and lives in the URL.
import { drawImage, canvas } from '../draw.js';
import { fillSites } from '../dom.js';
import { DIRECTIONS, MAX_MOVE } from '../state.js';

// GANSpace's samples (ganscope_analysis::directions::GANSPACE_SAMPLES)
const SAMPLES = 1000;
const SWEEP = [-3, -2, -1, 0, 1, 2, 3];
const sigmas = (a) => `${a > 0 ? '+' : ''}${a} σ`;

export function directionsPanel(app) {
  const $ = app.$;
  let found = null; // {key, method, site, source, samples, directions}
  let pending = null;
  let sweepDir = 0;

  const key = () => `${app.model.name}|${app.state.dmethod}|${app.state.dsite}`;

  /** The shift of `amount` standard deviations along direction `k`. */
  function shift(k, amount) {
    return { site: found.site, vector: found.scaled[k], amount };
  }

  /** The moves of the state as `shifts` (none until the directions are found). */
  function shifts() {
    if (!found || found.key !== key()) return [];
    return app.state.moves.filter((m) => m[0] < found.directions.length).map((m) => shift(m[0], m[1]));
  }

  /** Finds the directions of the current model and settings (once per model and settings). */
  function ensure() {
    if (found && found.key === key()) return Promise.resolve(found);
    if (pending && pending.key === key()) return pending.promise;
    const k = key();
    $('directions-status').textContent = 'finding directions…';
    const promise = app.analysis.call('directions', {
      method: app.state.dmethod, site: app.state.dsite, samples: SAMPLES, top: DIRECTIONS,
    }).then((r) => {
      if (k !== key()) return found;
      // each direction times its standard deviation, in f32 as the CLI makes it (once)
      const scaled = r.directions.map((d) => Array.from(d.vector, (v) => Math.fround(v * d.sigma)));
      found = { ...r, key: k, scaled };
      const gone = app.state.moves.filter((m) => m[0] >= r.directions.length);
      if (gone.length) {
        app.state.moves = app.state.moves.filter((m) => m[0] < r.directions.length);
        app.error(`direction ${gone[0][0]} does not exist: this model has ${r.directions.length}`);
      }
      buildSliders();
      return found;
    }).catch((e) => {
      $('directions-status').textContent = '';
      throw new Error(`directions: ${e.message}`);
    }).finally(() => { if (pending && pending.key === k) pending = null; });
    pending = { key: k, promise };
    return promise;
  }

  function describe() {
    if (found.method === 'sefa') {
      return 'SeFa: the directions of z that the first layer stretches most (eigenvectors of AᵀA ' +
        'for its weight A); the number is the eigenvalue.';
    }
    const where = found.site === 'z' ? `carried to z from the activations of ${found.source}` :
      `added to the activations of ${found.site}`;
    return `GANSpace: principal components of ${found.source} over ${found.samples} samples, ${where}; ` +
      'the number is the share of the variance.';
  }

  function setMove(k, amount) {
    const others = app.state.moves.filter((m) => m[0] !== k);
    const moves = amount === 0 ? others : [...others, [k, amount]].sort((a, b) => a[0] - b[0]);
    app.set({ moves });
  }

  function buildSliders() {
    $('directions-status').textContent = describe();
    // the site only matters to GANSpace
    $('directions-site').disabled = found.method !== 'ganspace';
    const box = $('sliders');
    box.replaceChildren();
    found.directions.forEach((d, k) => {
      const row = document.createElement('div');
      row.className = 'slider';
      const label = document.createElement('label');
      const value = found.method === 'sefa' ? d.value.toFixed(2) : `${(100 * d.value).toFixed(1)}%`;
      label.textContent = `Direction ${k + 1} (${value})`;
      const input = document.createElement('input');
      Object.assign(input, { type: 'range', min: '-3', max: '3', step: '0.1', id: `dir-${k}` });
      const move = app.state.moves.find((m) => m[0] === k);
      input.value = String(move ? move[1] : 0);
      const shown = document.createElement('output');
      const show = (a) => {
        input.setAttribute('aria-valuetext', `${a} standard deviations`);
        shown.textContent = sigmas(a);
      };
      show(Number(input.value));
      input.addEventListener('input', () => {
        const a = Math.max(-MAX_MOVE, Math.min(MAX_MOVE, Number(input.value)));
        show(a);
        setMove(k, a);
      });
      label.append(input, shown);
      const sweep = document.createElement('button');
      sweep.textContent = 'sweep';
      sweep.setAttribute('aria-label', `sweep direction ${k + 1}`);
      sweep.addEventListener('click', () => { sweepDir = k; drawSweep(); });
      row.append(label, sweep);
      box.append(row);
    });
  }

  /** The strip of direction `sweepDir` from -3 to +3 standard deviations, the other moves kept. */
  async function drawSweep() {
    if (!found) return;
    const strip = $('sweep');
    const cells = SWEEP.map((a, i) => Object.assign(canvas('mid', `${a} standard deviations`), { id: `sweep-${i}` }));
    strip.replaceChildren(...cells);
    const others = app.state.moves.filter((m) => m[0] !== sweepDir).map((m) => shift(m[0], m[1]));
    $('sweep-caption').textContent = `direction ${sweepDir + 1} from -3 to +3 standard deviations` +
      (others.length ? ' (the other moves kept)' : '');
    const done = `${app.model.name}|${sweepDir}|${app.state.seed}|${JSON.stringify(app.state.moves)}`;
    strip.dataset.done = '';
    const renders = SWEEP.map((a, i) => {
      const iv = app.iv({ shifts: [...others, shift(sweepDir, a)] });
      // a newer sweep replaces this one's waiting cells (they resolve to null)
      return app.lab.latestCall(`sweep${i}`, 'render', { seed: app.state.seed, n: 1, iv }, 2);
    });
    const rs = await Promise.all(renders);
    if (rs.some((r) => !r)) return;
    rs.forEach((r, i) => drawImage(cells[i], r.images, 0, app.model.channels, app.model.size));
    strip.dataset.done = done;
  }

  function onModel() {
    found = null;
    $('sliders').replaceChildren();
    $('sweep').replaceChildren();
    $('directions-method').value = app.state.dmethod;
    fillSites($('directions-site'), app.model.sites, 'channels', app.state.dsite || '');
    if (!app.state.dsite) $('directions-site').value = app.model.sites[(app.model.sites.length - 1) >> 1][0];
  }

  $('directions-method').addEventListener('change', (e) => app.set({ dmethod: e.target.value, moves: [] }));
  $('directions-site').addEventListener('change', (e) => app.set({ dsite: e.target.value, moves: [] }));

  async function render() {
    await ensure();
    for (const [k, a] of app.state.moves) {
      const input = $(`dir-${k}`);
      if (input) {
        input.value = String(a);
        input.parentElement.querySelector('output').textContent = sigmas(a);
      }
    }
    await drawSweep();
  }

  return { onModel, render, ensure, shifts };
}
