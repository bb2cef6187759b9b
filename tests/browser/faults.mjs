// Faults and long sessions in the lab page (headless Chromium): a WebGPU device lost
// mid-session (device.destroy()) is re-created without a reload; thousands of consecutive
// edits (path clicks, brush strokes, hybrid channel changes) leave the JS heap, the worker's
// wasm memory, the DOM, the GPU's buffer pools and its bind-group cache where they were (within
// 10%; the bind groups stop at the recorder's bound once the warm-up has filled it); the page's
// Content-Security-Policy refuses inline script and eval; script in URL parameters never runs.
//   node tests/browser/faults.mjs            (CI: 10,000 edits on the CPU engine, 60 on WebGPU/SwiftShader)
//   EDITS_CPU=N EDITS_GPU=N node tests/browser/faults.mjs
// Needs ./build.sh (www/pkg), Debian's chromium and target/debug/ganscope (or $GANSCOPE).
import { native, serve } from './harness.mjs';
import { expectBanner, open, pixels, redraw, runSuite, same, state } from './page.mjs';

const RPGAN = 'www/models/rpgan-colored-mnist.safetensors';
const EDITS = { cpu: Number(process.env.EDITS_CPU || 10000), gpu: Number(process.env.EDITS_GPU || 60) };
// the page draws every edit's state; the test waits for the drawing of every AWAIT-th one
// (the others are replaced while waiting, as when a person paints faster than it renders)
const AWAIT = 4;
const WARMUP = { cpu: 300, gpu: 15 };
const { base, close } = await serve();

/** What the page holds: JS heap after a collection, DOM elements, the worker's numbers. */
async function measure(page, cdp) {
  await cdp.send('HeapProfiler.collectGarbage');
  const { usedSize } = await cdp.send('Runtime.getHeapUsage');
  const [nodes, worker] = await page.evaluate(async () => [
    document.getElementsByTagName('*').length, await window.ganscope.lab.call('stats')]);
  return { heap: usedSize, nodes, ...worker };
}

/** `count` edits from edit number `from`, cycling through the three panels. */
function edits(page, from, count) {
  return page.evaluate(async ([from, count, every]) => {
    const app = window.ganscope;
    const m = app.model;
    const [, [c, h, w]] = m.sites.find((s) => s[0] === 'b3');
    const hc = m.sites.find((s) => s[0] === app.state.hsite)[1][0];
    let last = Promise.resolve();
    for (let i = from; i < from + count; i++) {
      const st = app.state;
      if (i % 3 === 0) {
        // a path click
        st.panel = 'paths';
        st.path = m.blocks.map((k, b) => (i + 3 * b) % k);
      } else if (i % 3 === 1) {
        // a brush stroke: a growing disc on the region of a unit edit
        st.panel = 'units';
        st.site = 'b3';
        const r = 1 + (i % 5);
        const cx = i % w;
        const data = Array.from({ length: h * w }, (_, p) =>
          ((p % w) - cx) ** 2 + (Math.floor(p / w) - h / 2) ** 2 <= r * r ? 1 : 0);
        st.edits = [{ site: 'b3', units: [i % c, (i * 7) % c], strength: 1, value: 0,
          region: { kind: 'mask', height: h, width: w, data } }];
      } else {
        // a hybrid channel change
        st.panel = 'hybrids';
        st.channels = [...new Set([i % hc, (i * 5) % hc])].sort((a, b) => a - b);
      }
      last = app.refresh();
      if ((i - from) % every === every - 1) await last;
    }
    await last;
  }, [from, count, AWAIT]);
}

const tests = {
  async 'consecutive edits hold memory, DOM, GPU buffers and bind groups'(page, kind) {
    const cdp = await page.context().newCDPSession(page);
    await edits(page, 0, WARMUP[kind]);
    const before = await measure(page, cdp);
    const t0 = Date.now();
    await edits(page, WARMUP[kind], EDITS[kind]);
    const after = await measure(page, cdp);
    const growth = {};
    for (const k of Object.keys(before)) {
      growth[k] = after[k] / before[k];
      if (!(growth[k] <= 1.1)) {
        throw new Error(`${k} grew from ${before[k]} to ${after[k]} over ${EDITS[kind]} edits`);
      }
    }
    const show = (o) => Object.entries(o).map(([k, v]) => `${k} ${v}`).join(', ');
    return `${EDITS[kind]} edits in ${((Date.now() - t0) / 1000).toFixed(0)} s; before: ${show(before)}; ` +
      `after: ${show(after)}`;
  },
  async 'the page refuses inline script and eval'(page) {
    // eval from the page's own (same-origin) script: the test's evaluate() itself is exempt
    await page.addScriptTag({ url: '/tests/browser/csp-probe.js' });
    await page.waitForFunction(() => window.__cspProbe !== undefined, null, { timeout: 10_000 });
    const r = await page.evaluate(() => {
      const s = document.createElement('script');
      s.textContent = 'window.__inline = 1';
      document.body.append(s);
      const d = document.createElement('div');
      d.setAttribute('onclick', 'window.__handler = 1');
      document.body.append(d);
      d.click();
      return { ...window.__cspProbe, inline: window.__inline, handler: window.__handler };
    });
    if (r.evaluated || r.constructed || r.inline !== undefined || r.handler !== undefined) {
      throw new Error(`the CSP let script run: ${JSON.stringify(r)}`);
    }
  },
  async 'script in URL parameters never runs'(page) {
    const evil = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>';
    const e = encodeURIComponent(evil);
    const queries = [
      `?model=${e}`,
      '?model=javascript:window.__pwned=3',
      `?model=rpgan-colored-mnist&seed=${e}&path=${e}&channels=${e}&embed=${e}`,
      `?model=rpgan-colored-mnist&edits=${encodeURIComponent(JSON.stringify([{ site: evil, units: [0] }]))}`,
      `?model=rpgan-colored-mnist&panel=units&site=${e}&hsite=${e}`,
    ];
    for (const q of queries) {
      await page.goto(`${base}/www/index.html${q}`);
      await page.waitForFunction(() => /^(ready|no model)/.test(document.getElementById('status').textContent),
        null, { timeout: 120_000 });
      const r = await page.evaluate(() => [window.__pwned, document.querySelectorAll('img, script:not([src])').length]);
      if (r[0] !== undefined || r[1] !== 0) throw new Error(`${q}: the URL ran or made elements: ${r}`);
    }
    expectBanner(page); // the last query's bad site is reported
  },
};

// a WebGPU-only test, on its own page
const gpuOnly = {
  async 'a lost WebGPU device is re-created and the page keeps rendering'(browser) {
    const errors = [];
    const page = await open(browser, base, '?model=rpgan-colored-mnist&seed=5&backend=gpu', errors);
    for (let round = 0; round < 2; round++) {
      const lost = await page.evaluate(() => window.ganscope.lab.call('loseDevice'));
      if (lost !== true) throw new Error(`loseDevice answered ${lost}`);
      await redraw(page, () => page.click('#seed-next'));
      const st = await state(page);
      same(await pixels(page, 'main'), native(RPGAN, st.seed, 1, JSON.stringify({ path: st.path })),
        `after device loss ${round + 1}`);
      const err = await page.evaluate(() => !document.getElementById('error').hidden && document.getElementById('error').textContent);
      if (err) throw new Error(`the page shows an error: ${err}`);
      const backend = await page.textContent('#backend-info');
      if (!backend.startsWith('WebGPU')) throw new Error(`the backend became ${backend}`);
    }
    await page.close();
    if (errors.length) throw new Error(errors.join('\n'));
    return 'recovered twice';
  },
};

// the CSP reports what it refused, and a bad URL's model fails to load: both expected
await runSuite({ base, close, tests, extra: { gpu: gpuOnly },
  expected: /Failed to load resource|Content Security Policy|Refused to/ });
