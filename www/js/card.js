// The model card: what `ganscope info` prints, as plain text. Every string comes from an
// untrusted file, so the result is only ever set as textContent.

const str = (v) => (v === undefined || v === null ? '' : String(v));

/** The card of model metadata `m` (parsed JSON) named `name`. */
export function card(m, name) {
  const g = m.generator || {};
  const lines = [];
  lines.push(`model:    ${str(name)} (format ${str(m.format_version)})`);
  lines.push(`family:   ${str(g.family)}`);
  lines.push(`image:    ${str(g.image_size)}x${str(g.image_size)}x${str(g.channels)}`);
  lines.push(`input:    ${g.constant_input ? 'constant (RPGAN)' : `noise z of size ${str(g.latent_dim)}`}`);
  const buckets = Array.isArray(g.buckets) ? g.buckets : [];
  lines.push(`buckets:  ${buckets.length}`);
  buckets.forEach((b, i) => {
    lines.push(`  bucket ${i + 1}: ${str(b.blocks)} block(s) of ${str(b.layers)} layer(s)`);
  });
  lines.push('sites:');
  for (const s of Array.isArray(m.sites) ? m.sites : []) {
    lines.push(`  ${str(s.name).padEnd(4)} [${(s.shape || []).map(str).join(', ')}] ${str(s.kind)}`);
  }
  const d = m.dataset;
  if (d) lines.push(`dataset:  ${str(d.name)} (${str(d.images)} images)`);
  const t = m.training;
  if (t) {
    lines.push(`training: ${str(t.steps)} steps, ${str(t.loss)} loss, D ${Number(t.d_loss).toFixed(4)} ` +
      `G ${Number(t.g_loss).toFixed(4)}, ${Math.round(Number(t.seconds))} s on ${str(t.device)}, ` +
      `${str(t.date)} (ganscope ${str(t.tool_version)})${t.ema ? ', EMA weights' : ''}`);
    if (t.options && typeof t.options === 'object' && Object.keys(t.options).length) {
      lines.push(`options:  ${JSON.stringify(t.options)}`);
    }
  }
  return lines.join('\n');
}
