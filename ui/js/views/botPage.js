import { h } from '../dom.js';
import {
  actionsFor, formatTime, shortId, snapshotSizes, stateLabel, versionLabel,
} from '../format.js';
import { rerender } from './focus.js';

/** The detail page of the selected bot, with its Container tab. */
export function renderBotPage(el, state, actions, progressPanel, resourcePanel) {
  const bot = state.bots.find((b) => b.id === state.selectedBotId);
  if (!bot) {
    rerender(el, () => emptyPage(state, actions));
    return;
  }
  rerender(el, () => [
    h('header', { class: 'bot-head' },
      h('div', {},
        h('h2', { class: 'bot-title', 'data-test': 'bot-title' }, bot.name),
        h('p', { class: 'muted' }, bot.image)),
      h('button', {
        class: 'button danger subtle',
        'data-focus': 'delete-bot',
        'data-test': 'delete-bot',
        disabled: Boolean(state.operations[bot.id] || state.pending?.[bot.id]),
        onclick: () => actions.deleteBot(bot),
      }, 'Delete bot…')),
    h('div', { class: 'tabs', role: 'tablist' },
      h('button', { class: 'tab', role: 'tab', 'aria-selected': 'true', id: 'tab-container' },
        'Container')),
    h('section', { class: 'tab-panel', role: 'tabpanel', 'aria-labelledby': 'tab-container' },
      containerTab(bot, state, actions, progressPanel, resourcePanel)),
  ]);
}

/** A button of the Container tab, found again by `key` for focus and by tests. */
function actionButton(key, label, enabled, onclick, kind = '') {
  return h('button', {
    class: `button ${kind}`.trim(),
    'data-focus': key,
    'data-test': key,
    disabled: !enabled,
    onclick,
  }, label);
}

function emptyPage(state, actions) {
  const text = state.bots.length === 0
    ? 'Give your first bot its own container.'
    : 'Choose a bot on the left.';
  return h('div', { class: 'empty-page' },
    h('p', {}, text),
    state.bots.length === 0
      ? h('button', { class: 'button primary', onclick: actions.openNewBot }, 'New bot')
      : null);
}

function containerTab(bot, state, actions, progressPanel, resourcePanel) {
  const status = state.statuses[bot.id];
  const operation = state.operations[bot.id];
  const running = operation && !operation.outcome;
  const pending = state.pending?.[bot.id];
  const containerState = status?.state ?? bot.state;
  const can = actionsFor(containerState, Boolean(running || pending));
  const error = state.errors[bot.id];
  const notice = state.notices?.[bot.id];

  return [
    h('div', { class: 'actions' },
      actionButton('create', 'Create', can.create, () => actions.createContainer(bot.id),
        'primary'),
      actionButton('start', 'Start', can.start, () => actions.startContainer(bot.id)),
      actionButton('stop', 'Stop', can.stop, () => actions.stopContainer(bot.id)),
      actionButton('update', 'Update image…', can.update, () => actions.updateImage(bot)),
      actionButton('snapshot', 'Take snapshot…', can.snapshot, () => actions.takeSnapshot(bot)),
      actionButton('delete', 'Delete…', can.remove, () => actions.deleteContainer(bot), 'danger'),
      pending ? h('span', { class: 'pending', role: 'status' }, pending) : null),
    error ? h('div', { class: 'alert', role: 'alert', 'data-test': 'error' },
      h('p', {}, error.message),
      dismiss(bot, actions)) : null,
    notice ? h('div', { class: 'alert alert-info', role: 'status', 'data-test': 'notice' },
      h('p', {}, notice),
      dismiss(bot, actions)) : null,
    running && progressPanel ? progressPanel.el : null,
    statusPanel(status, containerState),
    containerState === 'running' && resourcePanel ? resourcePanel.el : null,
    dataSection(bot, can.snapshot, actions),
    snapshotTree(bot, state.snapshots?.[bot.id] ?? [], can.snapshot, !(running || pending),
      actions),
    versionHistory(state.versions[bot.id] ?? []),
  ];
}

function dismiss(bot, actions) {
  return h('button', {
    class: 'button subtle',
    'data-focus': 'dismiss',
    onclick: () => actions.dismissError(bot.id),
  }, 'Dismiss');
}

function statusPanel(status, containerState) {
  const row = (term, ...value) => [h('dt', {}, term), h('dd', {}, ...value)];
  const digest = status?.imageDigest;
  return h('dl', { class: 'status-grid', 'aria-label': 'Container status' },
    row('Status', h('span', { class: `state state-${containerState}`, 'data-test': 'state' },
      stateLabel(containerState))),
    row('Container', h('code', { title: status?.containerId ?? '' }, shortId(status?.containerId))),
    row('Image', status?.image ?? '—',
      digest ? h('code', { class: 'digest', title: digest }, digest) : null),
    row('Data directory',
      h('span', {}, 'host: ', h('code', {}, status?.dataHostPath ?? '—')),
      h('span', {}, 'container: ', h('code', {}, status?.dataContainerPath ?? '/data'))),
    row('Tasks', h('span', { 'data-test': 'tasks' },
      status?.tasks === null || status?.tasks === undefined ? '—' : String(status.tasks))),
    row('Version', h('span', { 'data-test': 'version' }, versionLabel(status?.version))),
    row('Created', formatTime(status?.createdAt)),
    row('Started', formatTime(status?.startedAt)));
}

/** Export, import and reset of the data directory; each needs the container, running or not. */
function dataSection(bot, enabled, actions) {
  const button = (key, label, onclick, kind) => actionButton(key, label, enabled, onclick, kind);
  return h('section', { class: 'data-actions', 'aria-labelledby': 'data-title' },
    h('h3', { id: 'data-title' }, 'Data directory'),
    h('div', { class: 'actions' },
      button('export-data', 'Export…', () => actions.exportData(bot)),
      button('import-data', 'Import…', () => actions.importData(bot)),
      button('reset-data', 'Reset…', () => actions.resetData(bot), 'danger')));
}

/** The bot's snapshots, each under the one it descends from, with what can be done to them. */
function snapshotTree(bot, snapshots, canRestore, canDelete, actions) {
  if (snapshots.length === 0) return null;
  return h('section', { class: 'snapshots', 'aria-labelledby': 'snapshots-title' },
    h('h3', { id: 'snapshots-title' }, 'Snapshots'),
    h('ul', { class: 'snapshot-list', 'data-test': 'snapshots' },
      snapshots.map((snapshot) => h('li', {
        class: 'snapshot',
        cssVars: { '--depth': Math.min(snapshot.depth, 12) },
        'aria-level': String(snapshot.depth + 1),
        'data-test': 'snapshot-item',
        'data-snapshot-id': snapshot.id,
      },
      h('span', { class: 'snapshot-name' },
        h('span', { 'data-test': 'snapshot-name' }, snapshot.name),
        snapshot.current
          ? h('span', { class: 'badge', title: 'The container descends from this snapshot' },
            'current')
          : null,
        snapshot.broken ? h('span', { class: 'badge badge-danger' }, 'broken') : null),
      h('span', { class: 'muted' }, snapshotSizes(snapshot)),
      h('span', { class: 'muted' }, formatTime(snapshot.createdAt)),
      h('span', { class: 'snapshot-actions' },
        h('button', {
          class: 'button subtle',
          'data-focus': `restore-${snapshot.id}`,
          'data-test': 'restore',
          disabled: !canRestore || Boolean(snapshot.broken),
          title: snapshot.broken ?? '',
          'aria-label': `Restore ${snapshot.name}`,
          onclick: () => actions.restoreSnapshot(bot, snapshot),
        }, 'Restore…'),
        h('button', {
          class: 'button subtle danger',
          'data-focus': `delete-${snapshot.id}`,
          'data-test': 'delete-snapshot',
          disabled: !canDelete,
          'aria-label': `Delete ${snapshot.name}`,
          onclick: () => actions.deleteSnapshot(bot, snapshot),
        }, 'Delete…')),
      snapshot.broken
        ? h('p', { class: 'snapshot-broken', role: 'note' },
          `Cannot be restored: ${snapshot.broken}`)
        : null))));
}

function versionHistory(versions) {
  if (versions.length === 0) return null;
  return h('section', { class: 'history', 'aria-labelledby': 'history-title' },
    h('h3', { id: 'history-title' }, 'Versions'),
    h('ol', { class: 'history-list', 'data-test': 'versions' },
      versions.map((version) => h('li', { class: 'history-item' },
        h('span', { class: 'history-label' }, versionLabel(version)),
        h('span', { class: 'muted' }, version.image),
        version.imageDigest
          ? h('code', { class: 'digest', title: version.imageDigest },
            version.imageDigest.slice(0, 19))
          : h('span', {}),
        h('span', { class: 'muted' }, formatTime(version.createdAt))))));
}
