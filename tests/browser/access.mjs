// The lab page by keyboard, on a phone and under axe-core, in headless Chromium (the CPU
// engine: nothing here depends on it): axe-core (pinned in package.json) on every panel, the
// tabs and the galleries as one Tab stop with arrow keys (WAI-ARIA), the region placed by
// keys, and a 390x844 phone with no sideways scroll, the image and the tabs on the first
// screen and tap targets of 24 px. Screenshots of each panel go to $SHOTS when it is set.
// Needs ./build.sh (www/pkg), Debian's chromium and target/debug/ganscope (or $GANSCOPE).
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { native, serve } from './harness.mjs';
import { pixels, ready, redraw, runSuite, same, settle, state } from './page.mjs';

const RPGAN = 'www/models/rpgan-colored-mnist.safetensors';
const AXE = fs.readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const PANELS = ['paths', 'units', 'hybrids', 'directions'];
const { base, close } = await serve();

/** axe-core's serious and critical violations on the page as it is, one line each. */
async function axe(page, where) {
  if (!(await page.evaluate(() => Boolean(window.axe)))) await page.evaluate(AXE);
  const found = await page.evaluate(async () => {
    const r = await window.axe.run(document, { resultTypes: ['violations'] });
    return r.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')
      .map((v) => `${v.id} (${v.impact}): ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join('; ')}`);
  });
  return found.map((f) => `${where}: ${f}`);
}

/** Opens each panel with its analyses run, so that what they draw is checked too. */
async function eachPanel(page, f) {
  for (const p of PANELS) {
    await redraw(page, () => page.click(`#tab-${p}`));
    if (p === 'hybrids') {
      await page.fill('#pairs', '2');
      await page.click('#influence-run');
      await page.waitForSelector('#maps canvas', { timeout: 120_000 });
    }
    if (p === 'directions') await page.waitForSelector('#dir-0', { timeout: 120_000 });
    await f(p);
  }
}

const focused = (page) => page.evaluate(() => document.activeElement?.id || document.activeElement?.getAttribute('aria-label'));

const tests = {
  async 'axe-core finds no serious or critical violation on any panel'(page) {
    const bad = [];
    await eachPanel(page, async (p) => bad.push(...await axe(page, p)));
    if (bad.length) throw new Error(bad.join('\n'));
  },
  async 'the tabs are one Tab stop and the arrow keys choose a tab'(page) {
    const stops = await page.$$eval('.tabs button', (bs) => bs.filter((b) => b.tabIndex === 0).map((b) => b.id));
    if (stops.join() !== 'tab-paths') throw new Error(`Tab stops ${stops}`);
    await page.focus('#tab-paths');
    await redraw(page, () => page.keyboard.press('ArrowRight'));
    if ((await state(page)).panel !== 'units' || (await focused(page)) !== 'tab-units') throw new Error('ArrowRight did not choose Units');
    await redraw(page, () => page.keyboard.press('End'));
    if ((await state(page)).panel !== 'directions') throw new Error('End did not choose Directions');
    await redraw(page, () => page.keyboard.press('Home'));
    if ((await state(page)).panel !== 'paths' || !(await page.isVisible('#panel-paths'))) throw new Error('Home did not choose Paths');
  },
  async 'the block grid is one Tab stop; the arrow keys move in it and Enter puts a block on the path'(page) {
    const st = await state(page);
    const stops = await page.$$eval('#grid button', (bs) => bs.filter((b) => b.tabIndex === 0).map((b) => b.getAttribute('aria-label')));
    if (stops.length !== 1) throw new Error(`the grid has ${stops.length} Tab stops`);
    if (stops[0] !== `bucket 1, block ${st.path[0]}`) throw new Error(`the stop is ${stops[0]}, not the path's block`);
    await page.focus(`#grid button[data-bucket="0"][data-block="${st.path[0]}"]`);
    const right = (st.path[0] + 1) % 8 === 0 ? 'ArrowLeft' : 'ArrowRight';
    await page.keyboard.press(right);
    await page.keyboard.press('ArrowDown');
    const want = st.path[0] + (right === 'ArrowRight' ? 1 : -1);
    if ((await focused(page)) !== `bucket 2, block ${want}`) throw new Error(`focus on ${await focused(page)}`);
    await redraw(page, () => page.keyboard.press('Enter'));
    const after = await state(page);
    if (after.path[1] !== want) throw new Error(`the path is ${after.path}`);
    same(await pixels(page, 'main'), native(RPGAN, 5, 1, JSON.stringify({ path: after.path })), 'after Enter');
    // Tab leaves the grid at once
    await page.keyboard.press('Tab');
    if (await page.evaluate(() => document.getElementById('grid').contains(document.activeElement))) {
      throw new Error('Tab moved inside the grid');
    }
  },
  async 'the region is a rectangle placed and sized by keys, and edits as native does'(page) {
    await redraw(page, () => page.click('#tab-units'));
    await page.selectOption('#unit-site', 'b3');
    await redraw(page, () => page.click('#units button >> nth=5'));
    await page.check('#paint');
    await page.focus('#brush-overlay');
    for (const key of ['ArrowRight', 'ArrowRight', 'Shift+ArrowDown', 'Shift+ArrowLeft']) {
      await redraw(page, () => page.keyboard.press(key));
    }
    const label = await page.getAttribute('#brush-overlay', 'aria-label');
    if (!label.includes('15x17 pixels at (10, 8)')) throw new Error(`the region reads ${label}`);
    const st = await state(page);
    const e = st.edits.find((x) => x.site === 'b3');
    // the rectangle covers image columns 10..24 and rows 8..24; b3 is 16x16, each cell the
    // share of its 2x2 pixels inside
    const inside = (v, lo, hi) => (v >= lo && v <= hi ? 1 : 0);
    const want = Array.from({ length: 256 }, (_, p) => {
      const [y, x] = [Math.floor(p / 16), p % 16];
      let n = 0;
      for (const dy of [0, 1]) for (const dx of [0, 1]) n += inside(2 * x + dx, 10, 24) * inside(2 * y + dy, 8, 24);
      return n / 4;
    });
    if (!e.region || e.region.height !== 16 || JSON.stringify(e.region.data) !== JSON.stringify(want)) {
      throw new Error(`region ${JSON.stringify(e.region)}`);
    }
    same(await pixels(page, 'main'), native(RPGAN, 5, 1, JSON.stringify({ path: st.path, edits: st.edits })), 'keyboard region');
  },
};

const phone = {
  async 'on a 390x844 phone: no sideways scroll, the image and the tabs on the first screen, 24 px tap targets'(browser) {
    const ctx = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true });
    try {
      const page = await ctx.newPage();
      await page.goto(`${base}/www/index.html?model=rpgan-colored-mnist&seed=5`);
      await ready(page);
      await settle(page);
      const bad = [];
      const first = await page.evaluate(() => ['main', 'tab-paths', 'tab-directions'].map((id) => {
        const r = document.getElementById(id).getBoundingClientRect();
        return [id, Math.round(r.bottom)];
      }));
      for (const [id, bottom] of first) if (bottom > 844) bad.push(`#${id} ends ${bottom} px down, below the first screen`);
      await eachPanel(page, async (p) => {
        const wide = await page.evaluate(() => document.documentElement.scrollWidth);
        if (wide > 390) bad.push(`${p}: the page is ${wide} px wide`);
        const small = await page.evaluate(() => Array.from(document.querySelectorAll('button, input, select, summary'))
          .filter((el) => el.offsetParent !== null && el.type !== 'hidden')
          .map((el) => [el.id || el.getAttribute('aria-label') || el.textContent.trim(), el.getBoundingClientRect()])
          .filter(([, r]) => r.width > 0 && (r.width < 24 || r.height < 24))
          .map(([n, r]) => `${n} ${Math.round(r.width)}x${Math.round(r.height)}`));
        if (small.length) bad.push(`${p}: tap targets under 24 px: ${small.slice(0, 6).join(', ')}${small.length > 6 ? ` and ${small.length - 6} more` : ''}`);
        if (process.env.SHOTS) {
          fs.mkdirSync(process.env.SHOTS, { recursive: true });
          await page.screenshot({ path: path.join(process.env.SHOTS, `phone-${p}.png`), fullPage: true });
        }
      });
      if (bad.length) throw new Error(bad.join('\n'));
    } finally {
      await ctx.close();
    }
  },
};

await runSuite({ base, close, tests, extra: { cpu: phone }, kinds: ['cpu'] });
