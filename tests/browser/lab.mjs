// The lab page (www/index.html) end to end in headless Chromium, on WebGPU (SwiftShader) and
// on the CPU fallback (a browser without WebGPU): the page's pixels against the native
// `ganscope sample` (8-bit, within one level), path clicks, unit edits and painting, hybrids,
// the URL round trip, embed mode, offline reload, a malformed file and a hostile model card.
// Needs ./build.sh (www/pkg), Debian's chromium and target/debug/ganscope (or $GANSCOPE).
import fs from 'node:fs';
import path from 'node:path';
import { launch, native, root, serve, tmp } from './harness.mjs';

const RPGAN = 'www/models/rpgan-colored-mnist.safetensors';
const GAN = 'www/models/gan-colored-mnist.safetensors';
const toByte = (v) => Math.round((Math.min(1, Math.max(-1, v)) + 1) * 127.5);
const { base, close } = await serve();

/** RGBA bytes of a canvas on the page. */
const pixels = (page, id) => page.evaluate((id) => {
  const c = document.getElementById(id);
  return Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data);
}, id);

/** Checks canvas RGBA against native floats (one image, C channels) within one level. */
function same(rgba, want, what) {
  const px = rgba.length / 4;
  const channels = want.length / px;
  if (!Number.isInteger(channels)) throw new Error(`${what}: ${px} pixels, ${want.length} values`);
  let worst = 0;
  for (let p = 0; p < px; p++) {
    for (let c = 0; c < 3; c++) {
      const w = toByte(want[(channels === 3 ? c : 0) * px + p]);
      worst = Math.max(worst, Math.abs(rgba[4 * p + c] - w));
    }
  }
  if (worst > 1) throw new Error(`${what}: the page differs from native by ${worst} levels`);
}

const differs = (a, b) => a.some((v, i) => v !== b[i]);

async function open(browser, query, errors) {
  const page = await browser.newPage();
  page.on('pageerror', (e) => errors.push(`page error: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(`console: ${m.text()}`); });
  await page.goto(`${base}/www/index.html${query}`);
  await ready(page);
  return page;
}

async function ready(page) {
  await page.waitForSelector('body[data-ready="1"]', { timeout: 120_000 });
  await page.waitForFunction(() => Number(document.body.dataset.drawn) > 0, null, { timeout: 120_000 });
}

/** Waits until the main image shows the page's latest state. */
async function settle(page) {
  await page.waitForFunction(() => document.body.dataset.ready === '1'
    && document.body.dataset.view === window.ganscope.viewKey(), null, { timeout: 120_000 });
}

/** Does `action`, then waits until the main image shows the state it led to. */
async function redraw(page, action) {
  await action();
  await settle(page);
}

const state = (page) => page.evaluate(() => JSON.parse(JSON.stringify(window.ganscope.state)));

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
  async 'ablating every unit of a site gives the native image'(page) {
    await page.click('#tab-units');
    await page.selectOption('#unit-site', 'b2');
    await redraw(page, () => page.click('#ablate-all'));
    const st = await state(page);
    const units = Array.from({ length: 64 }, (_, u) => u);
    const iv = { path: st.path, edits: [{ site: 'b2', units, strength: 1, value: 0 }] };
    same(await pixels(page, 'main'), native(RPGAN, 5, 1, JSON.stringify(iv)), 'b2 ablated');
  },
  async 'painting a region edits only there, as native does'(page) {
    await page.click('#tab-units');
    await page.selectOption('#unit-site', 'b3');
    await redraw(page, () => page.click('#units button >> nth=5'));
    await page.check('#paint');
    const box = await page.locator('#brush-overlay').boundingBox();
    await redraw(page, async () => {
      await page.mouse.move(box.x + box.width * 0.3, box.y + box.height * 0.3);
      await page.mouse.down();
      await page.mouse.move(box.x + box.width * 0.6, box.y + box.height * 0.5, { steps: 5 });
      await page.mouse.up();
    });
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
  async 'a malformed file shows an error and the page keeps working'(page) {
    await page.setInputFiles('#file', { name: 'bad.safetensors', mimeType: 'application/octet-stream',
      buffer: Buffer.from('\x10\x00\x00\x00\x00\x00\x00\x00{"a": not json}') });
    await page.waitForSelector('#error:not([hidden])', { timeout: 60_000 });
    const msg = await page.textContent('#error');
    if (!/Could not load bad\.safetensors: .*(header|JSON)/i.test(msg)) throw new Error(`error: ${msg}`);
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
  async 'embed mode shows one panel without the chrome'(page) {
    await page.goto(`${base}/www/index.html?model=rpgan-colored-mnist&seed=2&panel=paths&embed=paths`);
    await ready(page);
    const vis = await page.evaluate(() => ['panel-paths', 'panel-model', 'panel-units']
      .map((id) => document.getElementById(id).offsetParent !== null));
    if (JSON.stringify(vis) !== '[true,false,false]') throw new Error(`visible: ${vis}`);
  },
  async 'bad URL parameters are reported and ignored'(page) {
    await page.goto(`${base}/www/index.html?model=rpgan-colored-mnist&seed=-4&edits=%7Bnope&panel=<b>x</b>`);
    await ready(page);
    const msg = await page.textContent('#error');
    for (const p of ['seed', 'edits', 'panel']) if (!msg.includes(`URL parameter ${p}`)) throw new Error(`error: ${msg}`);
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

let failed = 0;
try {
  for (const kind of ['gpu', 'cpu']) {
    const browser = await launch({ webgpu: kind === 'gpu' });
    const backend = kind === 'gpu' ? 'gpu' : 'auto';
    for (const [name, t] of Object.entries(tests)) {
      const errors = [];
      const t0 = Date.now();
      let page;
      try {
        page = await open(browser, `?model=rpgan-colored-mnist&seed=5&backend=${backend}`, errors);
        await t(page, kind);
        const bad = errors.filter((e) => !e.includes('Failed to load resource'));
        if (bad.length) throw new Error(bad.join('\n'));
        console.log(`ok   [${kind}] ${name} (${Date.now() - t0} ms)`);
      } catch (e) {
        failed += 1;
        console.log(`FAIL [${kind}] ${name}: ${e.message}`);
      } finally {
        if (page) await page.close();
      }
    }
    if (kind === 'gpu') {
      // offline: a context with the service worker installed reloads with the network gone
      const ctx = await browser.newContext();
      const page = await ctx.newPage();
      try {
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
        console.log('ok   [gpu] works offline after the first visit');
      } catch (e) {
        failed += 1;
        console.log(`FAIL [gpu] works offline after the first visit: ${e.message}`);
      } finally {
        await ctx.close();
      }
    }
    await browser.close();
  }
} finally {
  close();
}
if (failed) {
  console.log(`${failed} browser test(s) failed`);
  process.exit(1);
}
