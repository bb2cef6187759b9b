// Small DOM pieces the panels share.

/** Fills `select` with the model's sites (`[[name, [C, H, W]], ...]`), `noun` naming C. */
export function fillSites(select, sites, noun, value) {
  select.replaceChildren();
  for (const [name, [c, h, w]] of sites) {
    const o = document.createElement('option');
    o.value = name;
    o.textContent = `${name} (${c} ${noun}, ${h}x${w})`;
    select.append(o);
  }
  select.value = value;
}

/**
 * Runs `work(onProgress)` from `button` with `bar` showing its progress and a Cancel button
 * beside it; a failure becomes the page's error, prefixed with `what`; a cancel only says so
 * in the status line.
 */
export async function withProgress(app, button, bar, what, work) {
  bar.hidden = false;
  bar.value = 0;
  button.disabled = true;
  // a Cancel button beside the bar ends the analyses' worker (js/lab.js AnalysisClient)
  const cancel = document.createElement('button');
  cancel.type = 'button';
  cancel.className = 'cancel';
  cancel.textContent = 'Cancel';
  cancel.addEventListener('click', () => app.analysis.cancel());
  bar.after(cancel);
  try {
    await work((done, total) => { bar.value = done / total; });
    app.error('');
  } catch (e) {
    if (e.cancelled) app.status(`${what}: cancelled`);
    else app.error(`${what}: ${e.message}`);
  } finally {
    cancel.remove();
    bar.hidden = true;
    button.disabled = false;
  }
}
