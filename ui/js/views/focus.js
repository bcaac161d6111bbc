// Re-rendering replaces elements; this puts keyboard focus back on the element that plays
// the same part (same data-focus key) so that keyboard users do not lose their place.

export function rerender(root, build) {
  const active = document.activeElement;
  const key = root.contains(active) ? active?.dataset?.focus : undefined;
  root.replaceChildren(...[build()].flat());
  if (key) root.querySelector(`[data-focus="${CSS.escape(key)}"]`)?.focus();
}
