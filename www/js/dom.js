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
 * Runs `work(onProgress)` from `button` with `bar` showing its progress; a failure becomes the
 * page's error, prefixed with `what`.
 */
export async function withProgress(app, button, bar, what, work) {
  bar.hidden = false;
  bar.value = 0;
  button.disabled = true;
  try {
    await work((done, total) => { bar.value = done / total; });
    app.error('');
  } catch (e) {
    app.error(`${what}: ${e.message}`);
  } finally {
    bar.hidden = true;
    button.disabled = false;
  }
}
