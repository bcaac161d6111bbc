import { h } from '../dom.js';
import { progressView } from '../format.js';

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

  let lastPercent = -1;
  function update(progress) {
    const view = progressView(progress);
    phase.textContent = view.phase;
    label.textContent = view.label;
    detail.textContent = view.detail;
    if (view.percent === null) {
      bar.removeAttribute('value');
    } else if (view.percent >= lastPercent) {
      bar.value = view.percent;
      lastPercent = view.percent;
    }
    layers.replaceChildren(...view.layers.map((layer) => h('li', { class: 'layer' },
      h('span', { class: 'layer-id' }, layer.id),
      h('span', { class: 'layer-state' }, layer.state),
      h('span', { class: 'layer-percent' }, layer.percent === null ? '' : `${layer.percent} %`))));
  }

  return { el, update };
}
