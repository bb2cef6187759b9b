// The view's state and its URL: every choice that changes what the page shows is a query
// parameter, so a paper can link to an exact view and a reload reproduces it.
//   model    a model the site lists (models/manifest.json; its "open" one by default) or a
//            URL of a .safetensors file (file:NAME: a local file, which a link names but
//            cannot open)
//   backend  auto | gpu | cpu
//   seed     the sample (sample 0 of this seed)
//   path     RPGAN path, block per bucket: 1,0,2,1
//   edits    unit edits, the JSON of `ganscope sample --interventions`' "edits"
//   panel    paths | units | hybrids
//   site     the Units panel's site
//   donor    the second sample's seed (Hybrids)
//   hsite    the hybrid's site;  channels  its channel set: 1,4,5
//   k        modules to cluster the influence maps into
//   dmethod  how latent directions are found: sefa | ganspace (default: by the model)
//   dsite    GANSpace's site
//   moves    moves along directions, direction:amount in standard deviations: 0:1.5,3:-2
//   embed    one panel (paths | units | hybrids | directions | sample) without the chrome
export const PANELS = ['paths', 'units', 'hybrids', 'directions'];

/** The largest move along a direction, in standard deviations (the model crate's limit). */
export const MAX_MOVE = 100;
/** Directions the page finds. */
export const DIRECTIONS = 8;

const MAX_SEED = 4294967295;

export function defaults() {
  return {
    model: '', backend: 'auto', seed: 0, path: null, edits: [],
    panel: 'paths', site: '', donor: 1, hsite: '', channels: [], k: 3, embed: '',
    dmethod: '', dsite: '', moves: [],
  };
}

function ints(s, max) {
  if (!s) return [];
  const out = s.split(',').map((x) => Number(x));
  if (out.some((x) => !Number.isInteger(x) || x < 0 || x > max)) {
    throw new Error(`"${s}" is not a list of whole numbers from 0 to ${max}`);
  }
  return out;
}

/** `0:1.5,3:-2` as [[0, 1.5], [3, -2]]: distinct directions, finite amounts, no zeros. */
function moves(s) {
  if (!s) return [];
  const out = s.split(',').map((part) => {
    const [k, a, rest] = part.split(':');
    const dir = Number(k);
    const amount = Number(a);
    if (rest !== undefined || !Number.isInteger(dir) || dir < 0 || dir >= DIRECTIONS) {
      throw new Error(`"${part}" is not direction:amount with a direction from 0 to ${DIRECTIONS - 1}`);
    }
    if (a === undefined || a.trim() === '' || !Number.isFinite(amount) || Math.abs(amount) > MAX_MOVE) {
      throw new Error(`the amount in "${part}" is not a number from -${MAX_MOVE} to ${MAX_MOVE}`);
    }
    return [dir, amount];
  });
  if (new Set(out.map((m) => m[0])).size !== out.length) throw new Error('a direction is listed twice');
  return out.filter((m) => m[1] !== 0);
}

function seed(s, name) {
  const v = Number(s);
  if (!Number.isInteger(v) || v < 0 || v > MAX_SEED) {
    throw new Error(`${name}=${s} is not a seed (a whole number from 0 to ${MAX_SEED})`);
  }
  return v;
}

/**
 * The state in `search` (a query string) over the defaults and `base` (the site's model to
 * open). Bad parameters are reported in `problems` (one sentence each) and left at their
 * defaults; nothing in the URL is ever treated as HTML.
 */
export function parse(search, base = {}) {
  const q = new URLSearchParams(search);
  const st = { ...defaults(), ...base };
  const problems = [];
  const take = (name, f) => {
    if (!q.has(name)) return;
    try {
      f(q.get(name));
    } catch (e) {
      problems.push(`URL parameter ${name}: ${e.message}`);
    }
  };
  take('model', (v) => { if (v) st.model = v; });
  take('backend', (v) => {
    if (!['auto', 'gpu', 'cpu'].includes(v)) throw new Error(`"${v}" is not auto, gpu or cpu`);
    st.backend = v;
  });
  take('seed', (v) => { st.seed = seed(v, 'seed'); });
  take('donor', (v) => { st.donor = seed(v, 'donor'); });
  take('path', (v) => { st.path = v ? ints(v, 1 << 20) : null; });
  take('channels', (v) => { st.channels = ints(v, 1 << 20); });
  take('edits', (v) => {
    const e = JSON.parse(v);
    if (!Array.isArray(e)) throw new Error('it is not a JSON list of edits');
    st.edits = e;
  });
  take('panel', (v) => {
    if (!PANELS.includes(v)) throw new Error(`"${v}" is not one of ${PANELS.join(', ')}`);
    st.panel = v;
  });
  take('embed', (v) => {
    if (v && ![...PANELS, 'sample'].includes(v)) {
      throw new Error(`"${v}" is not one of ${PANELS.join(', ')}, sample`);
    }
    st.embed = v;
  });
  take('site', (v) => { st.site = v; });
  take('dmethod', (v) => {
    if (!['', 'sefa', 'ganspace'].includes(v)) throw new Error(`"${v}" is not sefa or ganspace`);
    st.dmethod = v;
  });
  take('dsite', (v) => { st.dsite = v; });
  take('moves', (v) => { st.moves = moves(v); });
  take('hsite', (v) => { st.hsite = v; });
  take('k', (v) => {
    const k = Number(v);
    if (!Number.isInteger(k) || k < 1 || k > 64) throw new Error(`${v} is not from 1 to 64`);
    st.k = k;
  });
  return { state: st, problems };
}

/** The query string of `st` (defaults left out). */
export function format(st) {
  const d = defaults();
  const q = new URLSearchParams();
  q.set('model', st.model);
  if (st.backend !== d.backend) q.set('backend', st.backend);
  q.set('seed', String(st.seed));
  if (st.path) q.set('path', st.path.join(','));
  if (st.edits.length) q.set('edits', JSON.stringify(st.edits));
  q.set('panel', st.panel);
  if (st.site) q.set('site', st.site);
  if (st.donor !== d.donor) q.set('donor', String(st.donor));
  if (st.hsite) q.set('hsite', st.hsite);
  if (st.channels.length) q.set('channels', st.channels.join(','));
  if (st.k !== d.k) q.set('k', String(st.k));
  if (st.dmethod) q.set('dmethod', st.dmethod);
  if (st.dsite) q.set('dsite', st.dsite);
  if (st.moves.length) q.set('moves', st.moves.map((m) => `${m[0]}:${m[1]}`).join(','));
  if (st.embed) q.set('embed', st.embed);
  return `?${q}`;
}
