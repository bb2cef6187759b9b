// Keyboard patterns of WAI-ARIA: a composite widget (the tabs, the block grid, the unit
// cards, the channel chips, the map gallery) is one Tab stop, and the arrow keys move inside
// it.

const ARROWS = ['ArrowLeft', 'ArrowRight', 'ArrowUp', 'ArrowDown', 'Home', 'End'];

/** The enabled buttons of `container`, in order. */
const itemsOf = (container) => Array.from(container.querySelectorAll('button')).filter((b) => !b.disabled);

/** The item an arrow key leads to from `from`: left/right by one, up/down to the nearest
 * item of the row above or below (the layout's own rows, whatever wraps them), home/end. */
function next(items, from, key) {
  const i = items.indexOf(from);
  if (key === 'Home') return items[0];
  if (key === 'End') return items.at(-1);
  if (key === 'ArrowLeft') return items[Math.max(0, i - 1)];
  if (key === 'ArrowRight') return items[Math.min(items.length - 1, i + 1)];
  const r = from.getBoundingClientRect();
  const cx = r.left + r.width / 2;
  const down = key === 'ArrowDown';
  const rows = items.filter((b) => {
    const t = b.getBoundingClientRect().top;
    return down ? t > r.top + r.height / 2 : t < r.top - r.height / 2;
  });
  if (!rows.length) return from;
  const edge = (down ? Math.min : Math.max)(...rows.map((b) => b.getBoundingClientRect().top));
  const row = rows.filter((b) => Math.abs(b.getBoundingClientRect().top - edge) < 1);
  const dist = (b) => {
    const q = b.getBoundingClientRect();
    return Math.abs(q.left + q.width / 2 - cx);
  };
  return row.reduce((best, b) => (dist(b) < dist(best) ? b : best));
}

/**
 * Makes the buttons of `container` one Tab stop with a roving tabindex. The stop is the
 * button last focused, else `preferred()` (e.g. the block on the path), else the first
 * (`selected`: always `preferred()`, as for tabs); `onMove(button)` runs when an arrow key
 * moves the focus (the tabs select as they move).
 */
export function roving(container, { preferred = () => null, onMove = null, selected = false } = {}) {
  let last = null;
  function sync() {
    const items = itemsOf(container);
    const kept = !selected && last && items.includes(last) ? last : null;
    const stop = kept || items.find((b) => b === preferred()) || items[0];
    for (const b of items) b.tabIndex = b === stop ? 0 : -1;
  }
  container.addEventListener('focusin', (e) => {
    if (e.target instanceof HTMLButtonElement) {
      last = e.target;
      sync();
    }
  });
  container.addEventListener('keydown', (e) => {
    if (!ARROWS.includes(e.key) || !(e.target instanceof HTMLButtonElement)) return;
    const to = next(itemsOf(container), e.target, e.key);
    if (!to) return;
    e.preventDefault();
    to.focus();
    if (onMove && to !== e.target) onMove(to);
  });
  // items come and go with the model, the site and the analyses
  new MutationObserver(sync).observe(container, { childList: true, subtree: true, attributes: true, attributeFilter: ['aria-pressed', 'aria-selected', 'hidden', 'disabled'] });
  sync();
  return { sync };
}
