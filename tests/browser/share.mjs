// Sharing from the lab page in headless Chromium (the CPU engine: nothing here depends on
// it): Copy link reopens the view, the downloaded PNGs hold the rendered pixels scaled up,
// the measured numbers download as JSON and CSV equal to what the page shows, and a local
// file offers no link. The embed code is tested on a second origin in site.mjs.
// Needs ./build.sh (www/pkg), Debian's chromium and target/debug/ganscope (or $GANSCOPE).
import { serve } from './harness.mjs';
import { decodePng, download, expectBanner, pixels, ready, redraw, runSuite, scaledCopy, settle, state } from './page.mjs';

const GAN = 'www/models/gan-colored-mnist.safetensors';
const { base, close } = await serve();

/** RGBA bytes and size of the canvas `selector` matches. */
const canvasAt = (page, selector) => page.$eval(selector, (c) => ({
  width: c.width, height: c.height,
  data: Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data),
}));

const button = (panel, text) => `#panel-${panel} .share button:has-text("${text}")`;
const fmt = (s) => (s ? `${s.mean.toFixed(2)} ± ${s.std.toFixed(2)}` : '–');
const text = (bytes) => bytes.toString('utf8');

const tests = {
  async 'Copy link copies the view, and a new page opens it as it was'(page) {
    await page.context().grantPermissions(['clipboard-read', 'clipboard-write'], { origin: base });
    await redraw(page, () => page.click('#tab-hybrids'));
    await redraw(page, () => page.click('#channels button >> nth=2'));
    await page.waitForFunction(() => document.body.dataset.hybrid?.endsWith('|2'));
    await page.click(button('hybrids', 'Copy link'));
    const url = await page.evaluate(() => navigator.clipboard.readText());
    if (url !== page.url()) throw new Error(`copied ${url}, the page is at ${page.url()}`);
    const again = await page.context().browser().newPage();
    try {
      await again.goto(url);
      await ready(again);
      await settle(again);
      await again.waitForFunction(() => document.body.dataset.hybrid?.endsWith('|2'));
      const [a, b] = [await state(page), await state(again)];
      if (JSON.stringify(a) !== JSON.stringify(b)) throw new Error(`state ${JSON.stringify(b)}, want ${JSON.stringify(a)}`);
      for (const id of ['main', 'h-mix']) {
        if (JSON.stringify(await pixels(page, id)) !== JSON.stringify(await pixels(again, id))) {
          throw new Error(`${id} differs in the copied link's page`);
        }
      }
    } finally {
      await again.close();
    }
  },
  async 'the image downloads as a PNG of its pixels at 256 px, named by model, view and seed'(page) {
    const { name, bytes } = await download(page, button('sample', 'Image (PNG)'));
    if (name !== 'rpgan-colored-mnist-sample-seed5-image.png') throw new Error(`named ${name}`);
    const png = await decodePng(page, bytes);
    if (png.width !== 256 || png.height !== 256) throw new Error(`${png.width}x${png.height}`);
    scaledCopy(png, await pixels(page, 'main'), 32, 32, 8, [0, 0], 'the image');
  },
  async 'the path grid downloads as one PNG of every block, a row per bucket'(page) {
    const { name, bytes } = await download(page, button('paths', 'Path grid (PNG)'));
    if (name !== 'rpgan-colored-mnist-paths-seed5-grid.png') throw new Error(`named ${name}`);
    const png = await decodePng(page, bytes);
    // 4 buckets x 8 blocks of 32 px cells scaled 3x, 4 px apart
    if (png.width !== 8 * 96 + 7 * 4 || png.height !== 4 * 96 + 3 * 4) throw new Error(`${png.width}x${png.height}`);
    const cell = await canvasAt(page, '#grid button[data-bucket="2"][data-block="5"] canvas');
    scaledCopy(png, cell.data, 32, 32, 3, [5 * 100, 2 * 100], 'bucket 3, block 5');
  },
  async 'bucket responsibility downloads as JSON and CSV with the numbers shown'(page) {
    if (!(await page.isDisabled(button('paths', 'Bucket responsibility (JSON)')))) {
      throw new Error('the numbers can be downloaded before they are measured');
    }
    await page.fill('#resp-evals', '2');
    await page.click('#resp-run');
    await page.waitForSelector('#resp-table:not([hidden])', { timeout: 120_000 });
    const shown = await page.$$eval('#resp-table tbody tr', (trs) => trs.map((tr) =>
      Array.from(tr.querySelectorAll('td'), (td) => td.textContent)));
    // another seed after measuring: the numbers are still seed 5's, and say so
    await redraw(page, () => page.click('#seed-next'));
    const json = await download(page, button('paths', 'Bucket responsibility (JSON)'));
    if (json.name !== 'rpgan-colored-mnist-paths-seed5-responsibility.json') throw new Error(`named ${json.name}`);
    const d = JSON.parse(text(json.bytes));
    const fromJson = d.responsibility.buckets.map((b) => [String(b.bucket), fmt(b.colour_mean), fmt(b.semantic)]);
    if (JSON.stringify(fromJson) !== JSON.stringify(shown) || d.seed !== 5 || !d.link.includes('seed=5')
      || d.responsibility.evaluations !== 2) {
      throw new Error(`JSON ${JSON.stringify(fromJson)}, shown ${JSON.stringify(shown)}`);
    }
    const csv = text((await download(page, button('paths', 'Bucket responsibility (CSV)'))).bytes).trim().split('\n');
    if (csv[0] !== 'bucket,colour_mean,colour_std,semantic_mean,semantic_std,evaluations') throw new Error(csv[0]);
    const fromCsv = csv.slice(1).map((l) => {
      const v = l.split(',').map(Number);
      return [String(v[0]), fmt({ mean: v[1], std: v[2] }), fmt({ mean: v[3], std: v[4] })];
    });
    if (JSON.stringify(fromCsv) !== JSON.stringify(shown)) throw new Error(`CSV ${JSON.stringify(fromCsv)}`);
  },
  async 'the causal effect and the concept groups download with the numbers shown'(page) {
    await redraw(page, () => page.click('#tab-units'));
    await page.selectOption('#unit-site', 'b2');
    await redraw(page, () => page.click('#units button >> nth=3'));
    await page.fill('#ace-n', '4');
    await page.click('#ace-run');
    await page.waitForFunction(() => /^stroke at/.test(document.getElementById('ace-out').textContent), null, { timeout: 120_000 });
    const shown = await page.textContent('#ace-out');
    const ace = JSON.parse(text((await download(page, button('units', 'Causal effect (JSON)'))).bytes)).ace;
    if (!shown.includes(`ACE ${ace.ace.toFixed(3)}`) || ace.site !== 'b2' || ace.units.join() !== '3' || ace.samples !== 4) {
      throw new Error(`JSON ${JSON.stringify(ace)}, shown: ${shown}`);
    }
    await redraw(page, () => page.click('#tab-hybrids'));
    await page.fill('#groups-k', '3');
    await page.fill('#groups-n', '8');
    await page.click('#groups-run');
    await page.waitForSelector('#groups button', { timeout: 120_000 });
    const groups = await page.$$eval('#groups button', (bs) => bs.map((b) => b.title));
    const csv = text((await download(page, button('hybrids', 'Concept groups (CSV)'))).bytes).trim().split('\n');
    const byGroup = {};
    for (const line of csv.slice(1)) {
      const [, filter, group] = line.split(',');
      (byGroup[group] ||= []).push(filter);
    }
    const fromCsv = Object.keys(byGroup).sort().map((g) => byGroup[g].join(', '));
    if (JSON.stringify(fromCsv) !== JSON.stringify(groups)) throw new Error(`CSV groups ${JSON.stringify(fromCsv)}, shown ${JSON.stringify(groups)}`);
  },
  async 'influence maps and module templates download as PNGs of the gallery'(page) {
    await redraw(page, () => page.click('#tab-hybrids'));
    await page.fill('#pairs', '2');
    await page.click('#influence-run');
    await page.waitForSelector('#maps canvas', { timeout: 120_000 });
    const n = await page.$$eval('#maps canvas', (c) => c.length);
    const map = await canvasAt(page, '#maps canvas >> nth=0');
    const k = Math.ceil(96 / map.width);
    const png = await decodePng(page, (await download(page, button('hybrids', 'Influence maps (PNG)'))).bytes);
    const cols = Math.min(n, 16);
    const rows = Math.ceil(n / 16);
    const side = map.width * k;
    if (png.width !== cols * side + (cols - 1) * 4 || png.height !== rows * side + (rows - 1) * 4) {
      throw new Error(`${n} maps of ${map.width} px as ${png.width}x${png.height}`);
    }
    scaledCopy(png, map.data, map.width, map.height, k, [0, 0], 'the first map');
    await page.fill('#k', '2');
    await page.click('#modules-run');
    await page.waitForSelector('#modules canvas', { timeout: 60_000 });
    const mods = await decodePng(page, (await download(page, button('hybrids', 'Module templates (PNG)'))).bytes);
    const t = await canvasAt(page, '#modules canvas >> nth=1');
    scaledCopy(mods, t.data, t.width, t.height, Math.ceil(96 / t.width), [side + 4, 0], 'module 2');
  },
  async 'a local file offers no link, and says why'(page) {
    await page.setInputFiles('#file', GAN);
    await page.waitForFunction(() => window.ganscope.model?.name === 'gan-colored-mnist.safetensors', null, { timeout: 60_000 });
    await settle(page);
    for (const what of ['Copy link', 'Copy embed code']) {
      const b = button('sample', what);
      if (!(await page.isDisabled(b)) || !/local file cannot be linked/.test(await page.getAttribute(b, 'title'))) {
        throw new Error(`${what} is offered for a local file`);
      }
    }
    // what can be had stays: the image
    const { name } = await download(page, button('sample', 'Image (PNG)'));
    if (name !== 'gan-colored-mnist-sample-seed5-image.png') throw new Error(`named ${name}`);
    if (await page.isVisible('#error')) expectBanner(page);
  },
};

await runSuite({ base, close, tests, kinds: ['cpu'] });
