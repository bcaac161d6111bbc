// Builds elements. Text is only ever inserted as text nodes, never parsed as HTML, so names
// and paths people type cannot become markup.

/**
 * h('button', { class: 'primary', onclick: fn, 'aria-label': 'Start' }, 'Start')
 * Props starting with "on" become listeners; `dataset` sets data attributes; `cssVars` sets
 * CSS custom properties (through the style object: the CSP forbids style attributes);
 * `false`, `null` and `undefined` props and children are skipped.
 */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === false || value === null || value === undefined) continue;
    if (key.startsWith('on')) el.addEventListener(key.slice(2), value);
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else if (key === 'cssVars') {
      for (const [name, v] of Object.entries(value)) el.style.setProperty(name, String(v));
    }
    else if (key === 'value') el.value = value;
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else if (child instanceof Node) el.append(child);
    else el.append(document.createTextNode(String(child)));
  }
}
