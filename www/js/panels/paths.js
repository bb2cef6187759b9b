// Paths (RPGAN): the bucket x block grid of the paper's Figure 3 around the current path,
// choosing a block puts it on the path; bucket responsibility measured in the worker and
// drawn with Chart.js (with a table as its text alternative).
import { drawImage, canvas } from '../draw.js';
import { withProgress } from '../dom.js';

// Chart.js plugin: whiskers of +-std on each bar (datasets carry `std` beside `data`)
const errorBars = {
  id: 'errorBars',
  afterDatasetsDraw(chart) {
    const { ctx } = chart;
    ctx.save();
    ctx.strokeStyle = '#222';
    chart.data.datasets.forEach((ds, d) => {
      const meta = chart.getDatasetMeta(d);
      if (meta.hidden || !ds.std) return;
      meta.data.forEach((bar, i) => {
        const m = ds.data[i];
        const s = ds.std[i];
        if (m === null || !Number.isFinite(s)) return;
        const y = chart.scales.y;
        const top = y.getPixelForValue(m + s);
        const bottom = y.getPixelForValue(Math.max(0, m - s));
        ctx.beginPath();
        ctx.moveTo(bar.x, top);
        ctx.lineTo(bar.x, bottom);
        ctx.moveTo(bar.x - 4, top);
        ctx.lineTo(bar.x + 4, top);
        ctx.moveTo(bar.x - 4, bottom);
        ctx.lineTo(bar.x + 4, bottom);
        ctx.stroke();
      });
    });
    ctx.restore();
  },
};

let chartLib = null;
/** Chart.js, loaded the first time a chart is drawn (it is not needed for the first image);
 * null when it cannot be had (the table then stands alone). */
function loadChart() {
  chartLib ||= new Promise((ok) => {
    const s = document.createElement('script');
    s.src = 'vendor/chart.js-4.5.1/chart.umd.min.js';
    s.onload = () => ok(window.Chart || null);
    s.onerror = () => ok(null);
    document.head.append(s);
  });
  return chartLib;
}

export function pathsPanel(app) {
  const $ = app.$;
  let cells = [];
  let chart = null;

  function onModel() {
    const m = app.model;
    $('paths-none').hidden = m.rpgan;
    $('paths-body').hidden = !m.rpgan;
    $('grid').replaceChildren();
    cells = [];
    $('resp-table').hidden = true;
    // the chart takes room only once there is something to draw
    $('resp-chart').parentElement.hidden = true;
    if (chart) chart.destroy();
    chart = null;
    if (!m.rpgan) return;
    const cols = Math.max(...m.blocks);
    $('grid').style.gridTemplateColumns = `auto repeat(${cols}, auto)`;
    m.blocks.forEach((count, i) => {
      const label = document.createElement('span');
      label.className = 'label';
      label.textContent = `bucket ${i + 1}`;
      $('grid').append(label);
      const row = [];
      for (let j = 0; j < cols; j++) {
        if (j >= count) {
          $('grid').append(document.createElement('span'));
          row.push(null);
          continue;
        }
        const b = document.createElement('button');
        const c = canvas('', `the sample with block ${j} in bucket ${i + 1}`);
        b.append(c);
        b.dataset.bucket = String(i);
        b.dataset.block = String(j);
        b.setAttribute('aria-label', `bucket ${i + 1}, block ${j}`);
        b.addEventListener('click', () => {
          const p = [...app.state.path];
          p[i] = j;
          app.set({ path: p });
        });
        $('grid').append(b);
        row.push({ b, c });
      }
      cells.push(row);
    });
  }

  // The grid is rendered row by row (one worker call per bucket, after the main image and
  // the other renders), so that on a slow device a new path's main image never waits for a
  // whole grid.
  async function renderRow(i, iv) {
    const m = app.model;
    const r = await app.lab.latestCall(`grid-${i}`, 'grid', { seed: app.state.seed, iv, bucket: i });
    if (!r || !cells[i]) return;
    $('path-text').textContent = r.path.join('-');
    cells[i].forEach((cell, j) => {
      if (!cell) return;
      drawImage(cell.c, r.images, j, m.channels, m.size);
      cell.b.setAttribute('aria-pressed', String(r.path[i] === j));
    });
  }

  async function render() {
    if (!app.model.rpgan) return;
    const iv = app.iv();
    await Promise.all(cells.map((_, i) => renderRow(i, iv)));
  }

  /** The grid's canvases by bucket (null where a bucket has fewer blocks). */
  function gridRows() {
    return cells.map((row) => row.map((cell) => (cell ? cell.c : null)));
  }

  async function show(res, seed) {
    app.measure('responsibility', res, res.buckets.map((b) => ({
      bucket: b.bucket, colour_mean: b.colour_mean.mean, colour_std: b.colour_mean.std,
      semantic_mean: b.semantic ? b.semantic.mean : '', semantic_std: b.semantic ? b.semantic.std : '',
      evaluations: res.evaluations,
    })), seed);
    const fmt = (s) => (s ? `${s.mean.toFixed(2)} ± ${s.std.toFixed(2)}` : '–');
    const body = $('resp-table').querySelector('tbody');
    body.replaceChildren();
    for (const b of res.buckets) {
      const tr = document.createElement('tr');
      for (const v of [String(b.bucket), fmt(b.colour_mean), fmt(b.semantic)]) {
        const td = document.createElement('td');
        td.textContent = v;
        tr.append(td);
      }
      body.append(tr);
    }
    $('resp-table').hidden = false;
    const Chart = await loadChart();
    if (!Chart) return; // the table stands alone
    $('resp-chart').parentElement.hidden = false;
    if (chart) chart.destroy();
    const labels = res.buckets.map((b) => `bucket ${b.bucket}`);
    const datasets = [{
      label: 'colour', backgroundColor: '#e8a33d',
      data: res.buckets.map((b) => b.colour_mean.mean),
      std: res.buckets.map((b) => b.colour_mean.std),
    }];
    if (res.buckets.some((b) => b.semantic)) {
      datasets.push({
        label: 'semantic', backgroundColor: '#5b3cc4',
        data: res.buckets.map((b) => (b.semantic ? b.semantic.mean : null)),
        std: res.buckets.map((b) => (b.semantic ? b.semantic.std : NaN)),
      });
    }
    chart = new Chart($('resp-chart'), {
      type: 'bar',
      data: { labels, datasets },
      options: {
        animation: false,
        scales: {
          x: { title: { display: true, text: 'bucket l whose block is swapped' } },
          y: { beginAtZero: true, title: { display: true, text: 'distance ratio D_l / D_1' } },
        },
        plugins: { title: { display: true, text: `${res.evaluations} evaluations` } },
      },
      plugins: [errorBars],
    });
  }

  $('random-path').addEventListener('click', () => {
    const p = app.model.blocks.map((k) => Math.floor(Math.random() * k));
    app.set({ path: p });
  });
  $('resp-run').addEventListener('click', () => withProgress(app, $('resp-run'),
    $('resp-progress'), 'Bucket responsibility', async (onProgress) => {
      const evaluations = Number($('resp-evals').value);
      const seed = app.state.seed;
      // the bundled classifier knows colored MNIST only: other models get colour alone
      const dataset = app.model.meta.dataset && app.model.meta.dataset.name;
      const classifier = dataset === 'colored-mnist' ? await app.classifierBytes() : new Uint8Array();
      await show(await app.analysis.call('responsibility', { evaluations, seed, classifier },
        { onProgress }), seed);
    }));
  return { onModel, render, gridRows };
}
