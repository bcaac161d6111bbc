import { h } from '../dom.js';
import { nextBar, progressView } from '../format.js';

/**
 * The progress panel of an operation. It is built once per operation and then updated in
 * place, up to 20 times a second, so that focus and screen readers are not disturbed.
 */
export function createProgressPanel(onCancel) {
  const phase = h('span', { class: 'progress-phase', 'data-test': 'progress-phase' });
  const label = h('span', { class: 'progress-label', 'data-test': 'progress-label' });
  const bar = h('progress', { class: 'progress-bar', max: '100', 'data-test': 'progress-bar' });
  const detail = h('span', { class: 'progress-detail' });
  const layers = h('ul', { class: 'layer-list', 'aria-label': 'Layers' });
  const cancel = h('button', {
    class: 'button subtle',
    'data-focus': 'cancel',
    'data-test': 'cancel',
    onclick: onCancel,
  }, 'Cancel');
  const el = h('section', { class: 'progress-panel', 'aria-label': 'Progress' },
    h('div', { class: 'progress-head' }, phase, label, cancel),
    bar,
    detail,
    layers);

  let shown = null;
  function update(progress) {
    const view = progressView(progress);
    shown = nextBar(shown, view);
    phase.textContent = view.phase;
    label.textContent = shown.percent === null ? view.label : `${shown.percent} %`;
    detail.textContent = view.detail;
    if (shown.percent === null) bar.removeAttribute('value');
    else bar.value = shown.percent;
    layers.replaceChildren(...view.layers.map((layer) => h('li', { class: 'layer' },
      h('span', { class: 'layer-id' }, layer.id),
      h('span', { class: 'layer-state' }, layer.state),
      h('span', { class: 'layer-percent' }, layer.percent === null ? '' : `${layer.percent} %`))));
  }

  return { el, update };
}
