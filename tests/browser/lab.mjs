// The lab page (www/index.html) end to end in headless Chromium, on WebGPU (SwiftShader) and
// on the CPU fallback (a browser without WebGPU): the page's pixels against the native
// `ganscope sample` (8-bit, within one level), path clicks, unit edits and painting, hybrids,
// the URL round trip, embed mode, offline reload, a malformed file and a hostile model card.
// Needs ./build.sh (www/pkg), Debian's chromium and target/debug/ganscope (or $GANSCOPE).
import fs from 'node:fs';
import path from 'node:path';
import { ganscope, native, root, serve, tmp, trainHere } from './harness.mjs';
import { differs, expectBanner, pixels, ready, redraw, runSuite, same, settle, state } from './page.mjs';

const RPGAN = 'www/models/rpgan-colored-mnist.safetensors';
const GAN = 'www/models/gan-colored-mnist.safetensors';
const FACE = 'www/models/dcgan-digiface.safetensors';
const TORCH = 'tests/fixtures/import/pytorch-dcgan/checkpoint.tar';
const { base, close } = await serve();

const LINEAR = trainHere('linear', ['--arch', 'linear', '--image-size', '28', '--rpgan', '--blocks', '3,3,2,2,2']);
const INTERP = trainHere('interp', ['--interpret', 'b2', '--groups', '3', '--group-every', '2']);

/** A brush stroke on the sample from `from` to `to` (fractions of its box), then the redraw. */
async function paint(page, [x0, y0], [x1, y1]) {
  await page.check('#paint');
  const box = await page.locator('#brush-overlay').boundingBox();
  await redraw(page, async () => {
    await page.mouse.move(box.x + box.width * x0, box.y + box.height * y0);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width * x1, box.y + box.height * y1, { steps: 5 });
    await page.mouse.up();
  });
}

async function load(page, file) {
  await page.setInputFiles('#file', file);
  await page.waitForFunction((n) => window.ganscope.model?.name === n, path.basename(file), { timeout: 60_000 });
  await settle(page);
}

const tests = {
  async 'loads the bundled RPGAN, renders it as native does, a block click changes path and image'(page, kind) {
    const st = await state(page);
    if ((await page.evaluate(() => document.body.dataset.backend)) !== kind) throw new Error('wrong backend');
    const first = await pixels(page, 'main');
    same(first, native(RPGAN, 5, 1, JSON.stringify({ path: st.path })), 'seed 5');
    const block = (st.path[1] + 3) % 8;
    await redraw(page, () => page.click(`#grid button[data-bucket="1"][data-block="${block}"]`));
    const st2 = await state(page);
    if (st2.path[1] !== block) throw new Error(`the path is ${st2.path}, bucket 2 should be ${block}`);
    if (!new URL(page.url()).searchParams.get('path').startsWith(`${st.path[0]},${block},`)) {
      throw new Error(`the URL ${page.url()} lacks the new path`);
    }
    const second = await pixels(page, 'main');
    if (!differs(first, second)) throw new Error('the image did not change with the path');
    same(second, native(RPGAN, 5, 1, JSON.stringify({ path: st2.path })), 'after the click');
  },
  async 'bucket responsibility in the page equals ganscope analyze buckets, and the page says where it ran'(page, kind) {
    await page.fill('#resp-evals', '2');
    await page.click('#resp-run');
    await page.waitForSelector('#resp-table:not([hidden])', { timeout: 120_000 });
    const rows = await page.$$eval('#resp-table tbody tr', (trs) => trs.map((tr) =>
      Array.from(tr.querySelectorAll('td'), (td) => td.textContent)));
    const out = path.join(tmp, 'buckets');
    ganscope(['analyze', RPGAN, 'buckets', '--evaluations', '2', '--seed', '5', '--out', out]);
    const want = JSON.parse(fs.readFileSync(path.join(out, 'buckets.json'), 'utf8')).buckets;
    const fmt = (s) => (s ? `${s.mean.toFixed(2)} ± ${s.std.toFixed(2)}` : '–');
    const expect = want.map((b) => [String(b.bucket), fmt(b.colour_mean), fmt(b.semantic)]);
    if (JSON.stringify(rows) !== JSON.stringify(expect)) {
      throw new Error(`page ${JSON.stringify(rows)}, native ${JSON.stringify(expect)}`);
    }
    // the analyses ran on the page's engine: WebGPU on a hardware adapter, the CPU here
    // (SwiftShader is a software adapter, forced for the images only)
    const ran = await page.evaluate(() => window.ganscope.analysis.backend);
    if (!ran.startsWith('CPU')) throw new Error(`the analyses ran on ${ran} (${kind})`);
    const info = await page.textContent('#backend-info');
    if (!info.includes(`analyses: ${ran}`)) throw new Error(`the page says ${info}`);
  },
  async 'ablating every unit of a site gives the native image'(page) {
    await page.click('#tab-units');
    await page.selectOption('#unit-site', 'b2');
    await redraw(page, () => page.click('#ablate-all'));
    const st = await state(page);
    const units = Array.from({ length: 64 }, (_, u) => u);
    const iv = { path: st.path, edits: [{ site: 'b2', units, strength: 1, value: 0 }] };
    same(await pixels(page, 'main'), native(RPGAN, 5, 1, JSON.stringify(iv)), 'b2 ablated');
    // the causal effect of the ablated units on the stroke (concept 1)
    await page.fill('#ace-n', '8');
    await page.click('#ace-run');
    await page.waitForFunction(() => /^stroke at/.test(document.getElementById('ace-out').textContent)
      || !document.getElementById('error').hidden, null, { timeout: 120_000 });
    const out = await page.textContent('#ace-out');
    const m = /^stroke at b2, units 0, 1, .*, 63: ([\d.]+)% .* ACE (-?[\d.]+), ablation removes (-?[\d.]+)%/.exec(out);
    if (!m || !(Number(m[1]) > 0)) throw new Error(`ACE: ${out} ${await page.textContent('#error')}`);
  },
  async 'the strength chosen before any unit stays and applies to the next unit'(page) {
    await page.click('#tab-units');
    await page.waitForSelector('#units button');
    await redraw(page, () => page.locator('#unit-strength').fill('0.5'));
    await settle(page);
    const v = await page.inputValue('#unit-strength');
    if (v !== '0.5') throw new Error(`the slider jumped to ${v}`);
    await redraw(page, () => page.click('#units button >> nth=3'));
    const st = await state(page);
    if (st.edits.length !== 1 || st.edits[0].strength !== 0.5) throw new Error(`edits ${JSON.stringify(st.edits)}`);
    same(await pixels(page, 'main'), native(RPGAN, 5, 1, JSON.stringify({ path: st.path, edits: st.edits })), 'a half edit');
  },
  async 'painting a region edits only there, as native does'(page) {
    await page.click('#tab-units');
    await page.selectOption('#unit-site', 'b3');
    await redraw(page, () => page.click('#units button >> nth=5'));
    await paint(page, [0.3, 0.3], [0.6, 0.5]);
    const st = await state(page);
    const e = st.edits.find((x) => x.site === 'b3');
    if (!e || !e.region || e.region.kind !== 'mask' || !e.region.data.some((v) => v > 0)) {
      throw new Error(`no painted region in ${JSON.stringify(st.edits)}`);
    }
    if (e.region.data.every((v) => v > 0)) throw new Error('the region covers everything');
    same(await pixels(page, 'main'), native(RPGAN, 5, 1, JSON.stringify({ path: st.path, edits: st.edits })), 'painted');
  },
  async 'a hybrid renders as native does'(page) {
    await page.click('#tab-hybrids');
    await page.selectOption('#hybrid-site', 'b3');
    for (const k of [1, 4, 5]) {
      await page.click(`#channels button >> nth=${k}`);
    }
    await page.waitForFunction(() => document.body.dataset.hybrid === '5|1|b3|1,4,5', null, { timeout: 60_000 });
    const st = await state(page);
    const iv = { path: st.path, hybrid: { site: 'b3', channels: [1, 4, 5], donor_seed: 1 } };
    same(await pixels(page, 'h-mix'), native(RPGAN, 5, 1, JSON.stringify(iv)), 'hybrid');
    same(await pixels(page, 'h-two'), native(RPGAN, 1, 1, ''), 'sample 2');
  },
  async 'the Hybrids tab opens with no channels: the hybrid is sample 1 and nothing is wrong'(page) {
    await page.goto(`${base}/www/index.html?model=rpgan-colored-mnist&seed=5&panel=hybrids`);
    await ready(page);
    await page.waitForFunction(() => document.body.dataset.hybrid?.startsWith('5|1|'), null, { timeout: 60_000 });
    const err = await page.textContent('#error');
    if (err) throw new Error(`the page shows an error: ${err}`);
    const st = await state(page);
    if (st.channels.length) throw new Error(`channels ${st.channels}`);
    same(await pixels(page, 'h-mix'), native(RPGAN, 5, 1, JSON.stringify({ path: st.path })), 'hybrid = sample 1');
    same(await pixels(page, 'h-two'), native(RPGAN, 1, 1, ''), 'sample 2');
  },
  async 'a concept group becomes the channel set and exchanges as native does'(page) {
    await page.click('#tab-hybrids');
    await page.selectOption('#hybrid-site', 'b2');
    await page.fill('#groups-k', '3');
    await page.fill('#groups-n', '16');
    await page.click('#groups-run');
    await page.waitForSelector('#groups button >> nth=2', { timeout: 120_000 });
    const labels = await page.$$eval('#groups button', (bs) => bs.map((b) => b.title));
    const members = labels.map((t) => (t ? t.split(', ').map(Number) : []));
    const all = members.flat().sort((a, b) => a - b);
    if (all.length !== 64 || all.some((c, i) => c !== i)) throw new Error(`groups do not partition b2: ${labels}`);
    const g = members.findIndex((m) => m.length > 0);
    await page.click(`#groups button >> nth=${g}`);
    const want = `5|1|b2|${members[g].join(',')}`;
    await page.waitForFunction((w) => document.body.dataset.hybrid === w, want, { timeout: 60_000 });
    const st = await state(page);
    const iv = { path: st.path, hybrid: { site: 'b2', channels: members[g], donor_seed: 1 } };
    same(await pixels(page, 'h-mix'), native(RPGAN, 5, 1, JSON.stringify(iv)), 'concept exchange');
  },
  async 'a linear RPGAN trained here renders as native does and swaps paths'(page) {
    await load(page, LINEAR);
    const st = await state(page);
    if (st.path.length !== 5) throw new Error(`path ${st.path} for 5 buckets`);
    same(await pixels(page, 'main'), native(LINEAR, 5, 1, JSON.stringify({ path: st.path })), 'linear');
    const block = (st.path[0] + 1) % 3;
    await redraw(page, () => page.click(`#grid button[data-bucket="0"][data-block="${block}"]`));
    const st2 = await state(page);
    if (st2.path[0] !== block) throw new Error(`the path is ${st2.path}, bucket 1 should be ${block}`);
    same(await pixels(page, 'main'), native(LINEAR, 5, 1, JSON.stringify({ path: st2.path })), 'new path');
  },
  async 'an interpretable GAN opens its learned groups, and one exchanges as native does'(page) {
    await load(page, INTERP);
    await page.click('#tab-hybrids');
    if ((await page.inputValue('#hybrid-site')) !== 'b2') throw new Error('the hybrids do not open on b2');
    const meta = JSON.parse(fs.readFileSync(INTERP).subarray(8, 8 + Number(fs.readFileSync(INTERP).readBigUInt64LE(0)))
      .toString()).__metadata__.ganscope;
    const labels = JSON.parse(meta).analysis.learned_groups.labels;
    const texts = await page.$$eval('#groups button', (bs) => bs.map((b) => [b.textContent, b.title]));
    const want = [0, 1, 2].map((k) => labels.flatMap((l, c) => (l === k ? [c] : [])))
      .filter((m) => m.length)
      .map((m) => m.join(', '));
    if (JSON.stringify(texts.map((t) => t[1])) !== JSON.stringify(want) || !texts.every((t) => /^learned group/.test(t[0]))) {
      throw new Error(`groups ${JSON.stringify(texts)}, file ${JSON.stringify(want)}`);
    }
    await page.click('#groups button >> nth=0');
    const members = want[0].split(', ').map(Number);
    await page.waitForFunction((w) => document.body.dataset.hybrid === w, `5|1|b2|${members.join(',')}`,
      { timeout: 60_000 });
    const iv = { hybrid: { site: 'b2', channels: members, donor_seed: 1 } };
    same(await pixels(page, 'h-mix'), native(INTERP, 5, 1, JSON.stringify(iv)), 'learned group exchange');
    // the groups' locality (Li et al.) as `ganscope analyze groups` measures it, in the table
    await page.fill('#locality-pairs', '4');
    await page.click('#locality-run');
    await page.waitForSelector('#locality-table:not([hidden])', { timeout: 120_000 });
    const loc = await page.evaluate(() => window.ganscope.measured.locality.json);
    const out = path.join(tmp, 'interp-groups');
    ganscope(['analyze', INTERP, 'groups', '--pairs', '4', '--samples', '8', '--seed', '5', '--out', out]);
    const nat = JSON.parse(fs.readFileSync(path.join(out, 'groups.json'), 'utf8')).locality;
    const near = (a, b) => a.length === b.length && a.every((x, i) => Math.abs(x - b[i]) <= 1e-4 + 1e-3 * Math.abs(b[i]));
    if (!near(loc.outside, nat.outside) || !near(loc.inside, nat.inside) || loc.pairs !== 4) {
      throw new Error(`page ${JSON.stringify(loc)}, native ${JSON.stringify(nat)}`);
    }
    const rows = await page.$$eval('#locality-table tbody tr', (trs) => trs.map((tr) =>
      Array.from(tr.querySelectorAll('td'), (td) => td.textContent)));
    const expect = [0, 1, 2].filter((k) => labels.includes(k)).map((k) => [String(k + 1),
      String(labels.filter((l) => l === k).length), loc.outside[k].toFixed(4), loc.inside[k].toFixed(4)]);
    if (JSON.stringify(rows.map((r) => r.slice(0, 4))) !== JSON.stringify(expect)) {
      throw new Error(`table ${JSON.stringify(rows)}, measured ${JSON.stringify(expect)}`);
    }
  },
  async 'the URL round-trips: a reload shows the same view'(page) {
    await page.click('#tab-units');
    await page.selectOption('#unit-site', 'b2');
    await redraw(page, () => page.click('#units button >> nth=3'));
    await redraw(page, () => page.click('#seed-next'));
    const st = await state(page);
    const img = await pixels(page, 'main');
    await page.reload();
    await ready(page);
    const st2 = await state(page);
    for (const k of ['seed', 'path', 'edits', 'panel', 'site', 'hsite']) {
      if (JSON.stringify(st[k]) !== JSON.stringify(st2[k])) throw new Error(`${k}: ${JSON.stringify(st[k])} became ${JSON.stringify(st2[k])}`);
    }
    if (differs(img, await pixels(page, 'main'))) throw new Error('the image changed on reload');
    if (st2.seed !== 6 || st2.edits.length !== 1) throw new Error(`unexpected state ${JSON.stringify(st2)}`);
  },
  async 'a local file is named in the URL as one, and its link says it cannot open it'(page) {
    await load(page, path.join(root, GAN));
    const url = new URL(page.url());
    if (url.searchParams.get('model') !== 'file:gan-colored-mnist.safetensors') throw new Error(`URL ${url}`);
    const note = await page.textContent('#model-note');
    if (!note.includes('cannot open it')) throw new Error(`note: ${note}`);
    same(await pixels(page, 'main'), native(GAN, 5, 1, ''), 'the local GAN');
    await page.goto(url.href);
    await page.waitForSelector('#error:not([hidden])', { timeout: 60_000 });
    const msg = await page.textContent('#error');
    if (!msg.includes('local file') || !msg.includes('?model=URL')) throw new Error(`error: ${msg}`);
    expectBanner(page);
  },
  async 'a malformed file shows an error and the page keeps working'(page) {
    await page.setInputFiles('#file', { name: 'bad.safetensors', mimeType: 'application/octet-stream',
      buffer: Buffer.from('\x10\x00\x00\x00\x00\x00\x00\x00{"a": not json}') });
    await page.waitForSelector('#error:not([hidden])', { timeout: 60_000 });
    const msg = await page.textContent('#error');
    if (!/Could not load bad\.safetensors: .*(header|JSON)/i.test(msg)) throw new Error(`error: ${msg}`);
    const menu = await page.inputValue('#bundled');
    if (menu !== 'rpgan-colored-mnist') throw new Error(`the menu reads "${menu}" with the RPGAN still loaded`);
    expectBanner(page);
    await redraw(page, () => page.click('#seed-next'));
    const st = await state(page);
    same(await pixels(page, 'main'), native(RPGAN, 6, 1, JSON.stringify({ path: st.path })), 'after the bad file');
  },
  async 'a model card with HTML in it shows the text and runs nothing'(page) {
    const evil = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>';
    const file = path.join(tmp, 'hostile.safetensors');
    fs.writeFileSync(file, withDatasetName(fs.readFileSync(path.join(root, GAN)), evil));
    await page.setInputFiles('#file', file);
    await page.waitForFunction(() => window.ganscope.model.name === 'hostile.safetensors', null, { timeout: 60_000 });
    await settle(page);
    const card = await page.textContent('#card');
    if (!card.includes(evil)) throw new Error(`the card lacks the name as text: ${card}`);
    const r = await page.evaluate(() => [window.__pwned, document.querySelectorAll('img, script:not([src])').length]);
    if (r[0] !== undefined || r[1] !== 0) throw new Error(`the metadata ran or made elements: ${r}`);
    same(await pixels(page, 'main'), native(GAN, 5, 1, ''), 'the hostile-card GAN');
  },
  async 'the imported face GAN renders as native does; a unit edit, a painted ablation, a hybrid, influence maps and a SeFa move work on it'(page) {
    await page.goto(`${base}/www/index.html?model=dcgan-digiface&seed=3&panel=units&site=b2`);
    await ready(page);
    same(await pixels(page, 'main'), native(FACE, 3, 1, ''), 'face seed 3');
    // one of b2's 256 units, then a painted region on b3 with another unit ablated there
    await redraw(page, () => page.click('#units button >> nth=17'));
    await page.selectOption('#unit-site', 'b3');
    await redraw(page, () => page.click('#units button >> nth=40'));
    await paint(page, [0.2, 0.2], [0.5, 0.6]);
    const st = await state(page);
    if (st.edits.length !== 2) throw new Error(`edits ${JSON.stringify(st.edits)}`);
    const edited = await pixels(page, 'main');
    same(edited, native(FACE, 3, 1, JSON.stringify({ edits: st.edits })), 'face with two edits');
    // hybrids of b3 channels, then influence maps of b4 over 2 pairs with their progress bar
    await page.click('#tab-hybrids');
    await page.selectOption('#hybrid-site', 'b3');
    for (const k of [2, 9, 30]) await page.click(`#channels button >> nth=${k}`);
    await page.waitForFunction(() => document.body.dataset.hybrid === '3|1|b3|2,9,30', null, { timeout: 60_000 });
    const iv = { edits: st.edits, hybrid: { site: 'b3', channels: [2, 9, 30], donor_seed: 1 } };
    same(await pixels(page, 'h-mix'), native(FACE, 3, 1, JSON.stringify(iv)), 'face hybrid');
    await page.selectOption('#hybrid-site', 'b4');
    await page.fill('#pairs', '2');
    await page.click('#influence-run');
    await page.waitForFunction(() => document.querySelectorAll('#maps canvas').length === 64
      || !document.getElementById('error').hidden, null, { timeout: 300_000 });
    const maps = await page.$$eval('#maps canvas', (c) => c.length);
    if (maps !== 64) throw new Error(`${maps} influence maps: ${await page.textContent('#error')}`);
    await page.fill('#k', '3');
    await page.click('#modules-run');
    await page.waitForFunction(() => document.querySelectorAll('#modules canvas').length >= 3, null, { timeout: 60_000 });
    // SeFa of the first transposed convolution: a move renders as ganscope sample --direction
    await page.goto(`${base}/www/index.html?model=dcgan-digiface&seed=3&panel=directions&moves=0:2`);
    await ready(page);
    await settle(page);
    same(await pixels(page, 'main'), native(FACE, 3, 1, '', 'cpu', ['--direction', '0', '--amount', '2']), 'face SeFa 1 at +2');
  },
  async 'a PyTorch checkpoint opened in the page is imported there and renders what ganscope import renders'(page) {
    const out = path.join(tmp, 'imported.safetensors');
    ganscope(['import', TORCH, '--out', out]);
    await page.setInputFiles('#file', path.join(root, TORCH));
    await page.waitForFunction(() => window.ganscope.model?.name === 'checkpoint.tar', null, { timeout: 60_000 });
    await settle(page);
    const st = await state(page);
    same(await pixels(page, 'main'), native(out, st.seed, 1, ''), 'imported in the page');
    // the analyses' worker runs on the imported model too
    await page.click('#tab-hybrids');
    await page.fill('#pairs', '2');
    await page.click('#influence-run');
    await page.waitForFunction(() => document.querySelectorAll('#maps canvas').length > 0
      || !document.getElementById('error').hidden, null, { timeout: 60_000 });
    if (!(await page.locator('#maps canvas').count())) throw new Error(`no maps: ${await page.textContent('#error')}`);
    const card = await page.textContent('#card');
    if (!/imported in this page[\s\S]*layout pytorch-dcgan[\s\S]*netG_state_dict/.test(card)) {
      throw new Error(`the card says ${card}`);
    }
    // a hostile pickle: refused with its reason, the imported model still loaded
    const evil = path.join(tmp, 'evil.pt');
    fs.writeFileSync(evil, Buffer.from('\x80\x02cos\nsystem\nX\x02\x00\x00\x00ls\x85R.', 'latin1'));
    await page.setInputFiles('#file', evil);
    await page.waitForFunction(() => !document.getElementById('error').hidden, null, { timeout: 60_000 });
    const msg = await page.textContent('#error');
    if (!/Could not load evil\.pt: .*os\.system/.test(msg)) throw new Error(`the banner says ${msg}`);
    if ((await page.evaluate(() => window.ganscope.model.name)) !== 'checkpoint.tar') throw new Error('the model was lost');
    expectBanner(page);
  },
  async 'a long analysis does not hold up the images, and Cancel stops it'(page) {
    await page.click('#tab-hybrids');
    await page.selectOption('#hybrid-site', 'b1');
    // analyses run on the CPU here (SwiftShader is a software adapter)
    await page.fill('#pairs', '1024');
    await page.click('#influence-run');
    await page.waitForSelector('#influence-progress:not([hidden])');
    // a new seed's image is drawn while the influence maps are still being computed
    await redraw(page, () => page.click('#seed-next'));
    const st = await state(page);
    same(await pixels(page, 'main'), native(RPGAN, st.seed, 1, JSON.stringify({ path: st.path })), 'during the analysis');
    if (await page.isHidden('#influence-progress')) throw new Error('the analysis ended before the image was drawn');
    await page.click('#panel-hybrids button.cancel');
    await page.waitForSelector('#influence-progress', { state: 'hidden', timeout: 10_000 });
    const status = await page.textContent('#status');
    if (!/cancelled/.test(status)) throw new Error(`the status says ${status}`);
    if (await page.locator('#maps canvas').count()) throw new Error('maps of a cancelled run are shown');
    // the next run starts a fresh worker and finishes
    await page.fill('#pairs', '2');
    await page.click('#influence-run');
    await page.waitForFunction(() => document.querySelectorAll('#maps canvas').length > 0, null, { timeout: 120_000 });
  },
  async 'embed mode shows one panel without the chrome'(page) {
    await page.goto(`${base}/www/index.html?model=rpgan-colored-mnist&seed=2&panel=paths&embed=paths`);
    await ready(page);
    const vis = await page.evaluate(() => ['panel-paths', 'panel-model', 'panel-units']
      .map((id) => document.getElementById(id).offsetParent !== null));
    if (JSON.stringify(vis) !== '[true,false,false]') throw new Error(`visible: ${vis}`);
  },
  async 'a direction slider renders as ganscope sample --direction does, and moves compose'(page) {
    await page.goto(`${base}/www/index.html?model=gan-colored-mnist&seed=5&panel=directions&moves=0:2`);
    await ready(page);
    const moved = native(GAN, 5, 1, '', 'cpu', ['--direction', '0', '--amount', '2']);
    same(await pixels(page, 'main'), moved, 'SeFa direction 1 at +2');
    if (!differs(moved, native(GAN, 5, 1, ''))) throw new Error('the move changed nothing');
    // the sweep of direction 1 holds the main image at +2 (column 6 of -3..+3)
    await page.click('#sliders button >> nth=0');
    await page.waitForSelector('#sweep[data-done^="gan-colored-mnist|0|5"]', { timeout: 60_000 });
    same(await pixels(page, 'sweep-5'), native(GAN, 5, 1, '', 'cpu', ['--direction', '0', '--amount', '2']), 'sweep +2');
    // a second slider and a unit edit compose with the first: the page's interventions, natively
    await redraw(page, () => page.locator('#dir-2').fill('-1.5'));
    const st = await state(page);
    if (JSON.stringify(st.moves) !== '[[0,2],[2,-1.5]]') throw new Error(`moves ${JSON.stringify(st.moves)}`);
    if (new URL(page.url()).searchParams.get('moves') !== '0:2,2:-1.5') throw new Error(`URL ${page.url()}`);
    const iv = await page.evaluate(() => window.ganscope.iv());
    same(await pixels(page, 'main'), native(GAN, 5, 1, iv), 'two moves');
  },
  async 'an RPGAN moves a site along a GANSpace direction as native does'(page) {
    await page.goto(`${base}/www/index.html?model=rpgan-colored-mnist&seed=5&panel=directions&moves=0:1.5`);
    await ready(page);
    const st = await state(page);
    const status = await page.textContent('#directions-status');
    if (!status.includes('GANSpace') || !status.includes('b2')) throw new Error(`status: ${status}`);
    same(await pixels(page, 'main'), native(RPGAN, 5, 1, JSON.stringify({ path: st.path }), 'cpu',
      ['--direction', '0', '--amount', '1.5']), 'GANSpace direction 1 at +1.5');
    // SeFa needs a latent: the page says so and keeps working
    await page.selectOption('#directions-method', 'sefa');
    await page.waitForFunction(() => document.getElementById('error').textContent.includes('learned constant'),
      null, { timeout: 60_000 });
    expectBanner(page);
  },
  async 'a model URL that cannot be fetched says why, and shows no empty panels'(page) {
    await page.goto(`${base}/www/index.html?model=${encodeURIComponent('http://127.0.0.1:9/m.safetensors')}`);
    await page.waitForSelector('#error:not([hidden])', { timeout: 60_000 });
    const msg = await page.textContent('#error');
    if (!msg.includes('cross-origin')) throw new Error(`error: ${msg}`);
    const shown = await page.evaluate(() => ['panel-paths', 'panel-units', 'panel-hybrids', 'panel-directions',
      'panel-sample'].filter((id) => !document.getElementById(id).hidden));
    if (shown.length) throw new Error(`with nothing loaded the page shows ${shown}`);
    expectBanner(page);
  },
  async 'bad URL parameters are reported and ignored'(page) {
    await page.goto(`${base}/www/index.html?model=rpgan-colored-mnist&seed=-4&edits=%7Bnope&panel=<b>x</b>&moves=0:NaN`);
    await ready(page);
    const msg = await page.textContent('#error');
    for (const p of ['seed', 'edits', 'panel', 'moves']) if (!msg.includes(`URL parameter ${p}`)) throw new Error(`error: ${msg}`);
    expectBanner(page);
    if (await page.evaluate(() => document.querySelectorAll('b').length)) throw new Error('the URL made HTML');
  },
};

/** A copy of a model file whose dataset name is `name`. */
function withDatasetName(bytes, name) {
  const n = Number(bytes.readBigUInt64LE(0));
  const header = JSON.parse(bytes.subarray(8, 8 + n).toString('utf8'));
  const meta = JSON.parse(header.__metadata__.ganscope);
  meta.dataset.name = name;
  header.__metadata__.ganscope = JSON.stringify(meta);
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
  return Buffer.concat([len, Buffer.from(json), bytes.subarray(8 + n)]);
}

await runSuite({
  base,
  close,
  tests,
  extra: {
    gpu: {
      async 'works offline after the first visit'(browser) {
        // a context with the service worker installed reloads with the network gone
        const ctx = await browser.newContext();
        try {
          const page = await ctx.newPage();
          await page.goto(`${base}/www/index.html?model=gan-colored-mnist&seed=4`);
          await ready(page);
          await page.evaluate(async () => {
            const reg = await navigator.serviceWorker.ready;
            await new Promise((ok) => {
              const sw = reg.active;
              if (sw && sw.state === 'activated') ok();
              else sw.addEventListener('statechange', () => sw.state === 'activated' && ok());
            });
          });
          await page.reload(); // now controlled by the worker, which has cached everything
          await ready(page);
          await ctx.setOffline(true);
          await page.reload();
          await ready(page);
          same(await pixels(page, 'main'), native(GAN, 4, 1, ''), 'offline');
        } finally {
          await ctx.close();
        }
      },
    },
  },
});
