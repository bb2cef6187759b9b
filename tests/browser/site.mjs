// `ganscope site` end to end: a site written with a model trained here, served by Python's
// plain static server, opens on the chosen model and view and renders what `ganscope sample`
// renders; the embed code the page copies renders in an <iframe> on a second origin; the
// service worker serves a warm visit from its cache, and a site written anew replaces what it
// serves on the next visit. Needs ./build.sh (www/pkg), Debian's chromium, python3 and
// target/debug/ganscope (or $GANSCOPE).
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { ganscope, launch, native, servePlain, tmp, trainHere } from './harness.mjs';
import { pixels, ready, same, settle, state } from './page.mjs';

const RPGAN = trainHere('site-rpgan', ['--rpgan', '--buckets', '4', '--blocks', '3']);
const GAN = trainHere('site-gan', []);
const SITE = path.join(tmp, 'site');
const VIEW = 'panel=units&site=b2&seed=7&path=1,2,0,1';
ganscope(['site', RPGAN, '--view', VIEW, '--out', SITE]);
const plain = await servePlain(SITE);

let failed = 0;
async function test(name, f) {
  const t0 = Date.now();
  try {
    const said = await f();
    console.log(`ok   ${name} (${Date.now() - t0} ms)${said ? `: ${said}` : ''}`);
  } catch (e) {
    failed += 1;
    console.log(`FAIL ${name}: ${e.message}`);
  }
}

/** Waits until the page shows `want` (a function of the page), through any reloads. */
async function until(page, want, what) {
  const end = Date.now() + 60_000;
  for (;;) {
    try {
      if (await page.evaluate(want)) return;
    } catch { /* the page is between loads */ }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((ok) => setTimeout(ok, 200));
  }
}

const browser = await launch({ webgpu: false });
const ctx = await browser.newContext();
await ctx.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: plain.base });
const errors = [];
const page = await ctx.newPage();
page.on('pageerror', (e) => errors.push(`page error: ${e.message}`));
page.on('console', (m) => { if (m.type() === 'error') errors.push(`console: ${m.text()}`); });
let embed = '';

await test('the site opens on its model and view and renders what ganscope sample renders', async () => {
  await page.goto(`${plain.base}/`);
  await ready(page);
  await settle(page);
  const st = await state(page);
  if (st.model !== 'site-rpgan' || st.panel !== 'units' || st.site !== 'b2' || st.seed !== 7 || st.path.join() !== '1,2,0,1') {
    throw new Error(`opened on ${JSON.stringify(st)}`);
  }
  const menu = await page.$$eval('#bundled option', (os) => os.map((o) => o.textContent));
  if (menu[0] !== 'RPGAN (4 buckets x 3 blocks), dcgan 1x32x32, mnist') throw new Error(`menu ${menu}`);
  same(await pixels(page, 'main'), native(RPGAN, 7, 1, JSON.stringify({ path: [1, 2, 0, 1] })), 'seed 7');
  const banner = await page.textContent('#error');
  if (banner || errors.length) throw new Error(`${banner} ${errors.join('\n')}`);
  await page.click('#panel-units .share button:has-text("Copy embed code")');
  embed = await page.evaluate(() => navigator.clipboard.readText());
  const cold = await page.evaluate(() => window.ganscope.timings.firstImage);
  return `first image ${cold.toFixed(0)} ms after navigation, cold`;
});

await test('a warm visit reads nothing but sw.js from the network', async () => {
  await page.evaluate(async () => {
    const reg = await navigator.serviceWorker.ready;
    await new Promise((ok) => {
      const sw = reg.active;
      if (sw.state === 'activated') ok();
      else sw.addEventListener('statechange', () => sw.state === 'activated' && ok());
    });
  });
  await until(page, () => Boolean(navigator.serviceWorker.controller), 'the worker to control the page');
  const asked = plain.requests.length;
  await page.reload();
  await ready(page);
  await settle(page);
  const read = plain.requests.slice(asked).filter((r) => r !== '/sw.js');
  if (read.length) throw new Error(`the warm visit read ${read.join(', ')} from the network`);
  same(await pixels(page, 'main'), native(RPGAN, 7, 1, JSON.stringify({ path: [1, 2, 0, 1] })), 'warm');
  const warm = await page.evaluate(() => window.ganscope.timings.firstImage);
  return `first image ${warm.toFixed(0)} ms after navigation, warm`;
});

await test('a site written anew is what the next visit shows', async () => {
  ganscope(['site', GAN, RPGAN, '--open', 'site-rpgan', '--view', VIEW, '--out', SITE]);
  await page.reload();
  // the new worker installs, takes over and the page reloads once onto the new files
  await until(page, () => Array.from(document.querySelectorAll('#bundled option'), (o) => o.value).includes('site-gan'),
    'the new model list');
  await ready(page);
  await settle(page);
  same(await pixels(page, 'main'), native(RPGAN, 7, 1, JSON.stringify({ path: [1, 2, 0, 1] })), 'after the update');
});

await test('a file that is not the one written is not cached', async () => {
  // a host still serving an old file, or an upload half done: the page works from the
  // network, and the service worker installs nothing rather than cache the wrong file
  const dir = path.join(tmp, 'site-changed');
  ganscope(['site', RPGAN, '--out', dir]);
  fs.appendFileSync(path.join(dir, 'style.css'), '\n/* not the file sw.js names */\n');
  const served = await servePlain(dir);
  const p = await ctx.newPage();
  try {
    await p.goto(`${served.base}/`);
    await ready(p);
    const end = Date.now() + 60_000;
    let reg;
    do {
      await new Promise((ok) => setTimeout(ok, 200));
      reg = await p.evaluate(async () => {
        const r = await navigator.serviceWorker.getRegistration();
        return r ? { installing: Boolean(r.installing), active: Boolean(r.active) } : null;
      });
    } while (reg?.installing && Date.now() < end);
    if (reg?.active) throw new Error('the service worker installed over a changed file');
    const cached = await p.evaluate(async () => Boolean(await caches.match('style.css')));
    if (cached) throw new Error('the changed file is in a cache');
    const good = await page.evaluate(async () => Boolean((await navigator.serviceWorker.getRegistration())?.active));
    if (!good) throw new Error('the unchanged site has no active service worker to compare with');
    return reg ? 'the install failed' : 'the registration was dropped';
  } finally {
    await p.close();
    served.close();
  }
});

await test('the copied embed code renders the view in an iframe on another origin', async () => {
  const m = /^<iframe src="([^"]+)" title="([^"]+)" width="(\d+)" height="(\d+)"/.exec(embed);
  if (!m) throw new Error(`embed code ${embed}`);
  const src = m[1].replace(/&amp;/g, '&');
  if (new URL(src).searchParams.get('embed') !== 'units') throw new Error(`the iframe opens ${src}`);
  // a page of another origin (localhost, not 127.0.0.1) holding the embed code as it was copied
  const other = http.createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end(`<!doctype html><title>a paper</title><p>Figure 1</p>${embed}`);
  });
  await new Promise((ok) => other.listen(0, '127.0.0.1', ok));
  const host = await browser.newPage();
  try {
    await host.goto(`http://localhost:${other.address().port}/`);
    const frame = await (await host.waitForSelector('iframe')).contentFrame();
    await frame.waitForSelector('body[data-ready="1"]', { timeout: 120_000 });
    await frame.waitForFunction(() => document.body.dataset.view === window.ganscope.viewKey(), null, { timeout: 120_000 });
    const rgba = await frame.evaluate(() => {
      const c = document.getElementById('main');
      return Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data);
    });
    same(rgba, native(RPGAN, 7, 1, JSON.stringify({ path: [1, 2, 0, 1] })), 'in the iframe');
    const back = await frame.getAttribute('#embed-full', 'href');
    if (!back || new URL(back).searchParams.has('embed') || !(await frame.isVisible('#embed-link'))) {
      throw new Error(`the link back to the lab is ${back}`);
    }
    if (await frame.isVisible('#panel-paths')) throw new Error('the embed shows other panels');
    return `${m[3]}x${m[4]} px, "${m[2]}"`;
  } finally {
    await host.close();
    other.close();
  }
});

await browser.close();
plain.close();
const bad = errors.filter((e) => !/Failed to load resource/.test(e));
if (bad.length) {
  failed += 1;
  console.log(`FAIL console: ${bad.join('\n')}`);
}
console.log(failed ? `${failed} failed` : 'all passed');
process.exit(failed ? 1 : 0);
