// Wires the store, the backend and the views together. Views only render; every change to
// state comes from a command's result or a backend event, through the store.

import * as botsApi from './api/bots.js';
import * as containerApi from './api/container.js';
import * as dataApi from './api/data.js';
import * as engineApi from './api/engine.js';
import * as operationsApi from './api/operations.js';
import * as snapshotsApi from './api/snapshots.js';
import * as statsApi from './api/stats.js';
import * as versionsApi from './api/versions.js';
import { cancelledNote, defaultSnapshotName, SAMPLES_KEPT, uniqueName } from './format.js';
import { listen, toError } from './ipc.js';
import { createStore, initialState, withKey } from './store.js';
import { renderBanner } from './views/banner.js';
import { renderAppNotices } from './views/notices.js';
import { renderBotPage } from './views/botPage.js';
import {
  confirmDialog, importDialog, newBotDialog, replaceDialog, resetDialog, restoreDialog,
  snapshotDialog, updateImageDialog,
} from './views/dialogs.js';
import { createProgressPanel } from './views/progress.js';
import { createResourcePanel } from './views/resources.js';
import { renderSidebar } from './views/sidebar.js';

/** While a container runs, its task count is read again this often (nothing signals it). */
const TASKS_REFRESH_MS = 5000;

/** The selected bot survives a reload of the window (not a restart of the app). */
const SELECTION_KEY = 'berth.selectedBotId';

const store = createStore({
  ...initialState(),
  pending: {},
  snapshots: {},
  selectedBotId: sessionStorage.getItem(SELECTION_KEY),
});
/** Progress panels by operation id, so that a Cancel button always names its own operation. */
const progressPanels = new Map();
/** Operations this window follows, and bots whose long operation (Create, Update image) this
 * window is starting. */
const watched = new Set();
const creating = new Set();
/** The newest status request per bot: older answers that arrive late are dropped. */
const statusRequests = new Map();
/** Bots whose history and snapshots must be read again. Kept until a read lands, so that a
 * newer status request (an engine event) that drops an older full one reads them instead. */
const staleLists = new Set();

// ---- loading from the backend -------------------------------------------------------------

async function refreshBots() {
  try {
    const bots = await botsApi.list();
    if (store.get().botsLoaded && sameData(bots, store.get().bots)) return;
    store.update((s) => ({
      bots,
      botsLoaded: true,
      selectedBotId: bots.some((b) => b.id === s.selectedBotId)
        ? s.selectedBotId
        : (bots[0]?.id ?? null),
    }));
  } catch (error) {
    console.error('listing bots failed', error);
  }
}

const sameData = (a, b) => JSON.stringify(a) === JSON.stringify(b);

/** The history only grows when a container is made, which the status's current version shows:
 * it is read again only then, not on every status refresh. */
function historyIsCurrent(history, status) {
  if (!history) return false;
  return !status.version || status.version.number === history[0]?.number;
}

/** Reads the bot's status again, and its history and snapshots when they may have changed:
 * when the container's version moved, or when `everything` is asked for (the bot was just
 * selected, or one of its operations ended). */
async function refreshStatus(botId, everything = false) {
  if (!botId) return;
  if (everything) staleLists.add(botId);
  const request = (statusRequests.get(botId) ?? 0) + 1;
  statusRequests.set(botId, request);
  try {
    const status = await containerApi.inspect(botId);
    if (statusRequests.get(botId) !== request) return;
    const known = store.get();
    const current = !staleLists.has(botId) && historyIsCurrent(known.versions[botId], status);
    const [versions, snapshots] = current
      ? [known.versions[botId], known.snapshots[botId]]
      : await Promise.all([versionsApi.list(botId), snapshotsApi.list(botId)]);
    if (statusRequests.get(botId) !== request) return;
    if (!current) staleLists.delete(botId);
    // An unchanged status must not redraw the page: a redraw between a press and its
    // release would swallow the click.
    const latest = store.get();
    if (sameData(status, latest.statuses[botId])
      && sameData(versions, latest.versions[botId])
      && sameData(snapshots, latest.snapshots[botId])) return;
    store.update((s) => ({
      statuses: withKey(s.statuses, botId, status),
      versions: withKey(s.versions, botId, versions),
      snapshots: withKey(s.snapshots, botId, snapshots),
    }));
  } catch (error) {
    if (error.kind !== 'notFound') console.error('reading status failed', error);
  }
}

async function refreshEngine() {
  store.update({ engine: await engineApi.inspect() });
}

// ---- live resources -----------------------------------------------------------------------

/** The resource readings the window follows: those of the open bot while its container runs. */
const resources = {
  botId: null, watchId: null, samples: [], lastAt: 0, panel: createResourcePanel(),
};

/** Readings come every second; this long without one (the engine went away and came back)
 * means the stream ended, and it is followed anew. */
const RESOURCES_SILENCE_MS = 10000;

/** Starts or stops following resources so that only the open, running bot is followed. */
function followResources(state) {
  const botId = state.selectedBotId;
  const running = state.statuses[botId]?.state === 'running';
  const wanted = running ? botId : null;
  if (wanted === resources.botId) return;
  if (resources.watchId !== null) statsApi.unwatch(resources.watchId).catch(() => {});
  Object.assign(resources, { botId: wanted, watchId: null, samples: [], lastAt: Date.now() });
  resources.panel.update([]);
  if (!wanted) return;
  statsApi.watch(wanted, (sample) => {
    if (resources.botId !== wanted) return;
    resources.lastAt = Date.now();
    resources.samples.push(sample);
    if (resources.samples.length > SAMPLES_KEPT) resources.samples.shift();
    resources.panel.update(resources.samples);
  }).then((watchId) => {
    if (resources.botId === wanted) resources.watchId = watchId;
    else statsApi.unwatch(watchId).catch(() => {});
  }).catch((error) => console.error('following resources failed', error));
}

// ---- operations ---------------------------------------------------------------------------

function onOperationEvent(botId) {
  return (message) => {
    const { event, data } = message;
    if (event === 'started') {
      store.update((s) => ({
        operations: withKey(s.operations, botId, { info: data, progress: null, outcome: null }),
        errors: withKey(s.errors, botId, undefined),
        notices: withKey(s.notices, botId, undefined),
      }));
    } else if (event === 'progress') {
      const operationId = store.get().operations[botId]?.info.id;
      progressPanels.get(operationId)?.update(data);
      store.update((s) => {
        const op = s.operations[botId];
        return op ? { operations: withKey(s.operations, botId, { ...op, progress: data }) } : {};
      });
    } else if (event === 'finished') {
      watched.delete(data.operationId);
      progressPanels.delete(data.operationId);
      // A run that changed nothing may say why (an image already up to date); a cancelled
      // one says what was kept.
      const op = store.get().operations[botId];
      const cancelled = data.outcome.state === 'cancelled' ? cancelledNote(op?.info.kind) : null;
      const note = cancelled ?? op?.progress?.note ?? undefined;
      const error = data.outcome.state === 'failed' ? data.outcome.error : undefined;
      store.update((s) => ({
        operations: withKey(s.operations, botId, undefined),
        errors: withKey(s.errors, botId, error),
        notices: withKey(s.notices, botId, note),
      }));
      refreshStatus(botId, true);
      refreshBots();
    }
  };
}

function panelFor(operationId) {
  if (!progressPanels.has(operationId)) {
    progressPanels.set(operationId, createProgressPanel(() => cancelOperation(operationId)));
  }
  return progressPanels.get(operationId);
}

async function cancelOperation(operationId) {
  try {
    await operationsApi.cancel(operationId);
  } catch (error) {
    if (error.kind !== 'notFound') console.error('cancel failed', error);
  }
}

/** Follows operations the backend runs that this window is not following yet. */
async function attachToRunningOperations() {
  for (const info of await operationsApi.list()) {
    const long = ['create', 'updateImage', 'snapshot', 'restore', 'export', 'import', 'resetData']
      .includes(info.kind);
    if (!long || watched.has(info.id) || creating.has(info.botId)) continue;
    watched.add(info.id);
    operationsApi.watch(info.id, onOperationEvent(info.botId)).catch(() => {
      // It ended between the list and the watch: the status refresh shows its result.
      watched.delete(info.id);
      refreshStatus(info.botId);
    });
  }
}

/** Repairs already shown, so that each is told once. */
let repairsShown = 0;

/** Tells what Berth put right at start: on the page of the bot it concerns, or above every
 * page when it concerns no bot Berth knows. */
async function showRepairs() {
  const repairs = await operationsApi.repairs();
  const fresh = repairs.slice(repairsShown);
  repairsShown = repairs.length;
  if (fresh.length === 0) return;
  store.update((s) => {
    let { notices } = s;
    const appNotices = [...s.appNotices];
    for (const repair of fresh) {
      if (repair.operation == null) {
        appNotices.push(repair.message);
        continue;
      }
      const earlier = notices[repair.botId];
      const told = earlier ? `${earlier} ${repair.message}` : repair.message;
      notices = withKey(notices, repair.botId, told);
    }
    return { notices, appNotices };
  });
  refreshBots();
}

function dismissAppNotice(index) {
  store.update((s) => ({ appNotices: s.appNotices.filter((_, i) => i !== index) }));
}

// ---- user actions -------------------------------------------------------------------------

function setError(botId, error) {
  // An earlier notice ("Exported to …") would read as this attempt's.
  store.update((s) => ({
    errors: withKey(s.errors, botId, toError(error)),
    notices: withKey(s.notices, botId, undefined),
  }));
}

/** Runs a short action with a pending note on the bot; its failure shows on the bot. */
async function withPending(botId, note, action) {
  store.update((s) => ({ pending: withKey(s.pending, botId, note) }));
  try {
    await action();
    store.update((s) => ({ errors: withKey(s.errors, botId, undefined) }));
  } catch (error) {
    setError(botId, error);
  } finally {
    store.update((s) => ({ pending: withKey(s.pending, botId, undefined) }));
    refreshStatus(botId, true);
  }
}

/** Starts a long operation on the bot with `begin(onEvent)` and follows it. A refusal before
 * it starts shows on the bot unless `rethrow`, which hands it to the caller (a dialog). */
async function startLong(botId, begin, rethrow = false) {
  // The backend announces the operation before this call returns; until it does, the
  // announcement must not make this window follow the operation a second time.
  creating.add(botId);
  try {
    const info = await begin(onOperationEvent(botId));
    // Null when the user cancelled a file dialog: nothing started.
    if (info) watched.add(info.id);
  } catch (error) {
    if (rethrow) throw toError(error);
    setError(botId, error);
  } finally {
    creating.delete(botId);
  }
}

/** A snapshot name the bot has no snapshot of yet, from `base`. */
function freeSnapshotName(botId, base) {
  const taken = (store.get().snapshots[botId] ?? []).map((snapshot) => snapshot.name);
  return uniqueName(base, taken);
}

const actions = {
  selectBot(botId) {
    sessionStorage.setItem(SELECTION_KEY, botId);
    store.update({ selectedBotId: botId });
    refreshStatus(botId, true);
  },

  openNewBot() {
    newBotDialog(async (name, image) => {
      const bot = await botsApi.create(name, image);
      await refreshBots();
      actions.selectBot(bot.id);
      await refreshStatus(bot.id);
      focusLater('[data-focus="create"]');
    });
  },

  createContainer(botId) {
    return startLong(botId, (onEvent) => containerApi.create(botId, onEvent));
  },

  updateImage(bot) {
    updateImageDialog(bot, (image) => startLong(bot.id,
      (onEvent) => containerApi.updateImage(bot.id, image, onEvent), true));
  },

  takeSnapshot(bot) {
    snapshotDialog(bot, freeSnapshotName(bot.id, defaultSnapshotName()), (name) => startLong(bot.id,
      (onEvent) => snapshotsApi.create(bot.id, name, onEvent), true));
  },

  restoreSnapshot(bot, snapshot) {
    const suggested = freeSnapshotName(bot.id, `Before restoring ${snapshot.name}`);
    restoreDialog(bot, snapshot, suggested, (saveAs) => startLong(bot.id,
      (onEvent) => snapshotsApi.restore(bot.id, snapshot.id, saveAs, onEvent), true));
  },

  exportData(bot) {
    return startLong(bot.id, (onEvent) => dataApi.exportData(bot.id, onEvent));
  },

  async importData(bot) {
    const mode = await importDialog(bot);
    if (mode === 'merge') {
      await startLong(bot.id, (onEvent) => dataApi.importData(bot.id, mode, null, onEvent));
    } else if (mode === 'replace') {
      const suggested = freeSnapshotName(bot.id, `Before import ${defaultSnapshotName().slice(9)}`);
      replaceDialog(bot, suggested, (saveAs) => startLong(bot.id,
        (onEvent) => dataApi.importData(bot.id, mode, saveAs, onEvent), true));
    }
  },

  resetData(bot) {
    const suggested = freeSnapshotName(bot.id, `Before reset ${defaultSnapshotName().slice(9)}`);
    resetDialog(bot, suggested, (saveAs) => startLong(bot.id,
      (onEvent) => dataApi.resetData(bot.id, saveAs, onEvent), true));
  },

  async deleteSnapshot(bot, snapshot) {
    const answer = await confirmDialog({
      title: `Delete the snapshot “${snapshot.name}”?`,
      body: 'Its saved files and data are removed. Snapshots taken after it stay restorable.',
      confirmLabel: 'Delete snapshot',
    });
    if (!answer.confirmed) return;
    await withPending(bot.id, 'Deleting the snapshot…',
      () => snapshotsApi.remove(bot.id, snapshot.id));
  },

  startContainer: (botId) => withPending(botId, 'Starting…', () => containerApi.start(botId)),
  stopContainer: (botId) => withPending(botId, 'Stopping…', () => containerApi.stop(botId)),

  async deleteContainer(bot) {
    const answer = await confirmDialog({
      title: `Delete the container of ${bot.name}?`,
      body: 'The container and everything installed in it are removed.',
      confirmLabel: 'Delete container',
      checkbox: { label: 'Keep the data directory for a later Create', checked: true },
    });
    if (!answer.confirmed) return;
    await withPending(bot.id, 'Deleting…', () => containerApi.remove(bot.id, answer.checked));
  },

  async deleteBot(bot) {
    const count = store.get().snapshots[bot.id]?.length ?? 0;
    const snapshots = count === 0 ? '' : ` and its ${count} snapshot${count === 1 ? '' : 's'}`;
    const answer = await confirmDialog({
      title: `Delete ${bot.name}?`,
      body: `The bot, its container, its data directory${snapshots} are removed for good.`,
      confirmLabel: 'Delete bot',
    });
    if (!answer.confirmed) return;
    await withPending(bot.id, 'Deleting…', async () => {
      await botsApi.remove(bot.id);
      await refreshBots();
    });
  },

  dismissError(botId) {
    store.update((s) => ({
      errors: withKey(s.errors, botId, undefined),
      notices: withKey(s.notices, botId, undefined),
    }));
  },
};

// ---- rendering ----------------------------------------------------------------------------

/** Moves focus after the next redraw, for keyboard users; falls back to the page. */
function focusLater(selector) {
  requestAnimationFrame(() => {
    const target = document.querySelector(selector);
    if (target && !target.disabled) target.focus();
    else els.main.focus();
  });
}

/** A redraw can remove the focused button (a finished operation's Cancel): keep focus in
 * the page rather than losing it to the document. */
function keepFocusInPage() {
  if (document.activeElement === document.body && !document.querySelector('dialog[open]')) {
    els.main.focus({ preventScroll: true });
  }
}

const els = {
  banner: document.getElementById('banner'),
  appNotices: document.getElementById('app-notices'),
  sidebar: document.getElementById('sidebar'),
  main: document.getElementById('main'),
};

let rendered = {};
function render(state) {
  if (state.engine !== rendered.engine) renderBanner(els.banner, state.engine);
  if (state.appNotices !== rendered.appNotices) {
    renderAppNotices(els.appNotices, state.appNotices, dismissAppNotice);
  }
  const sidebarInputs = [state.bots, state.selectedBotId, state.engine, state.botsLoaded];
  if (sidebarInputs.some((v, i) => v !== rendered.sidebar?.[i])) {
    renderSidebar(els.sidebar, state, actions);
  }
  // Progress messages update their panel in place; the page redraws only when the
  // operation itself starts or ends.
  const botId = state.selectedBotId;
  const op = state.operations[botId];
  const pageInputs = [state.bots, botId, state.statuses[botId], op?.info, state.errors[botId],
    state.pending[botId], state.versions[botId], state.notices[botId], state.snapshots[botId]];
  if (pageInputs.some((v, i) => v !== rendered.page?.[i])) {
    const panel = op ? panelFor(op.info.id) : null;
    renderBotPage(els.main, state, actions, panel, resources.panel);
    keepFocusInPage();
  }
  rendered = {
    engine: state.engine, appNotices: state.appNotices, sidebar: sidebarInputs, page: pageInputs,
  };
  followResources(state);
}

// ---- start --------------------------------------------------------------------------------

function listenToBackend() {
  // Also sent when the backend missed events: the open bot's status is read again too.
  listen('bots://changed', () => {
    refreshBots();
    refreshStatus(store.get().selectedBotId);
  });
  listen('container://changed', ({ botId }) => {
    if (botId === store.get().selectedBotId) refreshStatus(botId);
  });
  listen('engine://changed', (engine) => {
    store.update({ engine });
    refreshBots();
    refreshStatus(store.get().selectedBotId);
  });
  listen('operations://changed', attachToRunningOperations);
  listen('repairs://changed', showRepairs);
  // The tray's Open shows the window on a bot; a tray action that failed says why there.
  listen('tray://open-bot', (botId) => actions.selectBot(botId));
  listen('tray://failed', ({ botId, kind, message }) => {
    actions.selectBot(botId);
    setError(botId, { kind, message });
  });
}

function listenToKeys() {
  document.addEventListener('keydown', (event) => {
    const mod = event.ctrlKey || event.metaKey;
    if (mod && event.key.toLowerCase() === 'n' && !document.querySelector('dialog[open]')) {
      event.preventDefault();
      actions.openNewBot();
    }
  });
}

/** Snapshots can break from outside (an image removed, a data file moved): the open bot's list
 * is checked again this often. */
const SNAPSHOTS_REFRESH_MS = 15000;

function recheckSnapshots() {
  setInterval(() => {
    if (!document.hidden) refreshStatus(store.get().selectedBotId, true);
  }, SNAPSHOTS_REFRESH_MS);
}

function refreshTasksWhileRunning() {
  setInterval(() => {
    if (resources.botId && Date.now() - resources.lastAt > RESOURCES_SILENCE_MS) {
      resources.botId = null;
      followResources(store.get());
    }
    const { selectedBotId, statuses } = store.get();
    if (!document.hidden && statuses[selectedBotId]?.state === 'running') {
      refreshStatus(selectedBotId);
    }
  }, TASKS_REFRESH_MS);
}

async function start() {
  store.subscribe(render);
  render(store.get());
  listenToBackend();
  listenToKeys();
  await Promise.all([refreshEngine(), refreshBots()]);
  await refreshStatus(store.get().selectedBotId, true);
  await attachToRunningOperations();
  await showRepairs();
  refreshTasksWhileRunning();
  recheckSnapshots();
  document.body.dataset.ready = 'true';
  requestAnimationFrame(() => requestAnimationFrame(() => engineApi.markPainted()));
}

start().catch((error) => console.error('Berth failed to start', error));
