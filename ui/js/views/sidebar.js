import { h } from '../dom.js';
import { engineLine, stateLabel } from '../format.js';
import { rerender } from './focus.js';

export function renderSidebar(el, state, actions) {
  rerender(el, () => [
    h('div', { class: 'sidebar-head' },
      h('h1', { class: 'app-title' }, 'Berth'),
      h('button', {
        class: 'button primary',
        'data-focus': 'new-bot',
        'data-test': 'new-bot',
        title: 'New bot (Ctrl+N)',
        onclick: actions.openNewBot,
      }, 'New bot')),
    botList(state, actions),
    h('p', { class: 'engine-line', 'data-test': 'engine-line' }, engineLine(state.engine)),
  ]);
}

function botList(state, actions) {
  if (state.botsLoaded && state.bots.length === 0) {
    return h('p', { class: 'sidebar-empty' }, 'No bots yet.');
  }
  const items = state.bots.map((bot) => {
    const selected = bot.id === state.selectedBotId;
    return h('li', {},
      h('button', {
        class: `bot-item${selected ? ' selected' : ''}`,
        'aria-current': selected ? 'page' : false,
        'data-focus': `bot-${bot.id}`,
        'data-bot-id': bot.id,
        title: `${bot.name}: ${stateLabel(bot.state)}`,
        onclick: () => actions.selectBot(bot.id),
        onkeydown: (event) => moveInList(event),
      },
      h('span', { class: `dot dot-${bot.state}`, 'aria-hidden': 'true' }),
      h('span', { class: 'bot-name' }, bot.name),
      h('span', { class: 'visually-hidden' }, `, ${stateLabel(bot.state)}`)));
  });
  return h('ul', { class: 'bot-list', 'data-test': 'bot-list' }, items);
}

/** Up and down arrows move between bots, as in any list. */
function moveInList(event) {
  if (event.key !== 'ArrowDown' && event.key !== 'ArrowUp') return;
  event.preventDefault();
  const item = event.currentTarget.parentElement;
  const next = event.key === 'ArrowDown' ? item.nextElementSibling : item.previousElementSibling;
  next?.querySelector('button')?.focus();
}
