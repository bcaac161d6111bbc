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
  const items = state.bots.map((bot, index) => {
    const selected = bot.id === state.selectedBotId;
    // One Tab stop for the whole list (the selected bot); arrows move within it.
    const tabStop = selected || (!state.selectedBotId && index === 0);
    return h('li', {},
      h('button', {
        class: `bot-item${selected ? ' selected' : ''}`,
        'aria-current': selected ? 'page' : false,
        tabindex: tabStop ? '0' : '-1',
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

/** Arrows, Home and End move between bots, as in any list. */
function moveInList(event) {
  const item = event.currentTarget.parentElement;
  const list = item.parentElement;
  const targets = {
    ArrowDown: item.nextElementSibling,
    ArrowUp: item.previousElementSibling,
    Home: list.firstElementChild,
    End: list.lastElementChild,
  };
  if (!(event.key in targets)) return;
  event.preventDefault();
  targets[event.key]?.querySelector('button')?.focus();
}
