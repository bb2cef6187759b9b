// Sharing what a panel shows: a link to the view, an <iframe> that embeds the panel, its
// images as PNGs at a readable size, and the numbers it measured as JSON and CSV. Files are
// named after the model, the view and the seed.
import * as urlState from './state.js';

/** The smallest side a downloaded image is scaled up to (whole multiples, no smoothing). */
const MAIN_SIDE = 256;
const CELL_SIDE = 96;
const GAP = 4;

/** `model-view-seedN-what`, safe as a file name (`seed`: the one the numbers are of). */
export function fileName(app, view, what, ext, seed = app.state.seed) {
  let m = app.state.model.replace(/^file:/, '');
  try {
    m = new URL(m).pathname; // a model URL: its file, not its query
  } catch { /* a name */ }
  m = m.split('/').filter(Boolean).pop() || 'model';
  const model = m.replace(/\.safetensors$/, '').replace(/[^A-Za-z0-9._-]+/g, '_');
  return `${model}-${view}-seed${seed}-${what}.${ext}`;
}

/** The link to the current view (`embed` set: the panel alone). */
export function link(app, embed = '') {
  const u = new URL(location.href);
  u.search = urlState.format({ ...app.state, embed });
  return u.href;
}

/** `rows` of canvases drawn on one canvas: every cell the same whole multiple of the
 * largest source, at least `side` pixels, on white. */
export function tile(rows, side) {
  const all = rows.flat().filter(Boolean);
  const src = Math.max(1, ...all.map((c) => Math.max(c.width, c.height)));
  const cell = src * Math.ceil(side / src);
  const cols = Math.max(1, ...rows.map((r) => r.length));
  const out = document.createElement('canvas');
  out.width = cols * cell + (cols - 1) * GAP;
  out.height = rows.length * cell + (rows.length - 1) * GAP;
  const ctx = out.getContext('2d');
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, out.width, out.height);
  ctx.imageSmoothingEnabled = false;
  rows.forEach((row, i) => row.forEach((c, j) => {
    if (c) ctx.drawImage(c, j * (cell + GAP), i * (cell + GAP), cell, cell);
  }));
  return out;
}

/** Saves `blob` as `name` (the browser's download). */
function save(blob, name) {
  const a = document.createElement('a');
  a.href = URL.createObjectURL(blob);
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
}

/** `rows` (objects with the same keys) as CSV, quoted where needed. */
export function csv(rows) {
  if (!rows.length) return '';
  const keys = Object.keys(rows[0]);
  const cell = (v) => {
    const s = v === null || v === undefined ? '' : String(v);
    return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  return [keys.join(','), ...rows.map((r) => keys.map((k) => cell(r[k])).join(','))].join('\n') + '\n';
}

/** A button whose text is its accessible name (the bar's group label gives the view). */
function button(text, onClick) {
  const b = document.createElement('button');
  b.type = 'button';
  b.textContent = text;
  b.addEventListener('click', onClick);
  return b;
}

/**
 * A bar of share controls at the end of `section` for the view `view` (a panel's name, or
 * `sample`): Copy link and Copy embed code, then `images` (`{what, label, rows: () =>
 * canvases by row}`, each a "PNG" button) and `numbers` (`{what, label}`: a JSON and a CSV
 * button for `app.measured[what]`, `{json, rows, seed, link}`, enabled once measured).
 * Returns `{update}`, which the page calls after every change of state.
 */
export function shareBar(app, section, view, { images = [], numbers = [], embedWith = [] } = {}) {
  const bar = document.createElement('div');
  bar.className = 'share row';
  bar.setAttribute('role', 'group');
  bar.setAttribute('aria-label', `share the ${view} view`);
  const text = document.createElement('textarea');
  text.className = 'share-text';
  text.readOnly = true;
  text.rows = 2;
  text.hidden = true;
  text.setAttribute('aria-label', 'the copied text');

  async function copy(what, value) {
    text.value = value;
    text.hidden = false;
    try {
      await navigator.clipboard.writeText(value);
      app.status(`${what} copied to the clipboard`);
    } catch {
      text.select();
      app.status(`${what}: the browser did not allow copying; it is selected below, copy it from there`);
    }
  }
  const local = () => app.state.model.startsWith('file:');
  const linkButton = button('Copy link', () => copy('Link', link(app)));
  const embedButton = button('Copy embed code', () => {
    // sized to what the embedded view shows: this panel (and the sample beside it, if any)
    const shown = [section, ...embedWith.map((id) => document.getElementById(id))].filter((e) => e && !e.hidden);
    const width = Math.min(1200, Math.max(320, Math.ceil(Math.max(...shown.map((e) => e.scrollWidth))) + 24));
    const height = Math.min(2400, Math.max(240, Math.ceil(shown.reduce((s, e) => s + e.scrollHeight, 0)) + 72));
    const title = `ganscope lab: ${view} of ${app.model.name}`.replace(/["<>&]/g, '');
    const src = link(app, view).replace(/&/g, '&amp;').replace(/"/g, '&quot;');
    copy('Embed code', `<iframe src="${src}" title="${title}" width="${width}" height="${height}" ` +
      'style="border:0;max-width:100%" loading="lazy"></iframe>');
  });
  bar.append(linkButton, embedButton);
  for (const img of images) {
    bar.append(button(`${img.label} (PNG)`, () => {
      const rows = img.rows();
      if (!rows.flat().some(Boolean)) {
        app.status(`${img.label}: nothing is drawn yet`);
        return;
      }
      const c = tile(rows, rows.length === 1 && rows[0].length === 1 ? MAIN_SIDE : CELL_SIDE);
      c.toBlob((blob) => save(blob, fileName(app, view, img.what, 'png')), 'image/png');
    }));
  }
  const numberButtons = [];
  for (const n of numbers) {
    const json = button(`${n.label} (JSON)`, () => {
      // the seed and the link of the view that was measured, not of the view shown now
      const d = app.measured[n.what];
      const body = { model: app.model.name, view, seed: d.seed, link: d.link, [n.what]: d.json };
      save(new Blob([`${JSON.stringify(body, null, 2)}\n`], { type: 'application/json' }),
        fileName(app, view, n.what, 'json', d.seed));
    });
    const table = button(`${n.label} (CSV)`, () => {
      const d = app.measured[n.what];
      save(new Blob([csv(d.rows)], { type: 'text/csv' }), fileName(app, view, n.what, 'csv', d.seed));
    });
    numberButtons.push([n, json, table]);
    bar.append(json, table);
  }
  section.append(bar, text);

  function update() {
    const why = local() ? 'a model opened from a local file cannot be linked: put it on a host and open it as ?model=URL' : '';
    for (const b of [linkButton, embedButton]) {
      b.disabled = Boolean(why);
      b.title = why;
    }
    for (const [n, json, table] of numberButtons) {
      const none = !app.measured[n.what];
      json.disabled = none;
      table.disabled = none;
      json.title = none ? 'measure first' : '';
      table.title = json.title;
    }
  }
  return { update };
}
