import { h } from '../dom.js';

/** What Berth found that belongs to no bot (containers labelled as its own), above the page. */
export function renderAppNotices(el, notices, dismiss) {
  el.hidden = notices.length === 0;
  el.replaceChildren(...notices.map((text, index) =>
    h('div', { class: 'app-notice', 'data-test': 'app-notice' },
      h('p', {}, text),
      h('button', { class: 'button subtle', onclick: () => dismiss(index) }, 'Dismiss'))));
}
