// Pure functions from backend data to what the views show. No DOM here: tested with node.

const UNITS = ['B', 'kB', 'MB', 'GB', 'TB'];

/** Bytes in SI units, as the docker CLI shows them: "0 B", "1.5 kB", "12.3 MB". */
export function formatBytes(bytes) {
  if (!Number.isFinite(bytes) || bytes < 0) return '—';
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < UNITS.length - 1) {
    value /= 1000;
    unit += 1;
  }
  const digits = unit === 0 || value >= 100 ? 0 : 1;
  return `${value.toFixed(digits)} ${UNITS[unit]}`;
}

/** A whole percentage from 0 to 100 for a fraction, or null when it is not a number. */
export function percentOf(fraction) {
  if (typeof fraction !== 'number' || !Number.isFinite(fraction)) return null;
  return Math.floor(Math.min(1, Math.max(0, fraction)) * 100);
}

const PHASES = {
  pulling: 'Pulling image',
  creating: 'Creating container',
  starting: 'Starting',
  // A running container is paused meanwhile; the status panel says so, a stopped one stays.
  savingFiles: 'Saving files',
  savingData: 'Saving data',
  flattening: 'Compacting the filesystem',
  restoringData: 'Restoring data',
  exporting: 'Exporting data',
  checking: 'Checking every entry',
  preparing: 'Keeping the current data safe',
  importing: 'Importing data',
  clearing: 'Emptying the data directory',
  puttingBack: 'Putting the data directory back',
};

const LAYER_STATES = {
  waiting: 'Waiting',
  downloading: 'Downloading',
  verifying: 'Verifying',
  downloaded: 'Downloaded',
  extracting: 'Extracting',
  complete: 'Done',
  exists: 'Already here',
  retrying: 'Retrying',
};

/** What the progress panel shows for an operation's latest progress message. */
export function progressView(progress) {
  const pull = progress?.pull ?? null;
  const transfer = progress?.transfer ?? null;
  let percent = percentOf(pull?.fraction);
  let detail = '';
  if (transfer) {
    percent = transfer.total > 0 ? percentOf(transfer.done / transfer.total) : null;
    detail = bytesDetail(transfer.done, transfer.total);
  } else if (pull && pull.bytesDone > 0) {
    detail = bytesDetail(pull.bytesDone, pull.bytesTotal);
  }
  const layers = (pull?.layers ?? []).map((layer) => ({
    id: layer.id.slice(0, 12),
    state: LAYER_STATES[layer.state] ?? layer.state,
    percent: layer.total ? percentOf(layer.current / layer.total) : null,
  }));
  return {
    phase: PHASES[progress?.phase] ?? 'Preparing',
    percent,
    label: percent === null ? 'Working…' : `${percent} %`,
    detail,
    layers,
  };
}

/**
 * What the bar shows next, from what it showed (`shown`: { phase, percent, high }) and the
 * new view: within a phase it never goes back, not even across a spell of indeterminate,
 * and each phase that counts on its own (checking, then importing) starts again from where
 * it is. `percent` null means indeterminate.
 */
export function nextBar(shown, view) {
  const high = shown?.phase === view.phase ? shown.high : null;
  if (view.percent === null) return { phase: view.phase, percent: null, high };
  const percent = high === null ? view.percent : Math.max(high, view.percent);
  return { phase: view.phase, percent, high: percent };
}

/** "12 MB of 200 MB", or "12 MB" while the total is unknown. */
function bytesDetail(done, total) {
  return Number.isFinite(total) && total > 0
    ? `${formatBytes(done)} of ${formatBytes(total)}`
    : formatBytes(done);
}

const STATES = {
  none: 'No container',
  creating: 'Creating…',
  running: 'Running',
  paused: 'Paused',
  restarting: 'Restarting',
  stopped: 'Stopped',
  missing: 'Missing',
  unreachable: 'Engine unreachable',
};

export const stateLabel = (state) => STATES[state] ?? state;

/** Which container actions apply in a state, and whether another operation holds the bot. */
export function actionsFor(state, busy) {
  const free = !busy;
  return {
    create: free && (state === 'none' || state === 'missing'),
    start: free && state === 'stopped',
    stop: free && (state === 'running' || state === 'paused' || state === 'restarting'),
    remove: free && ['running', 'paused', 'restarting', 'stopped', 'missing'].includes(state),
    update: free && ['running', 'paused', 'stopped'].includes(state),
    snapshot: free && ['running', 'paused', 'stopped'].includes(state),
  };
}

const REASONS = {
  created: 'Created',
  recreated: 'Created again after a delete',
  imageUpdated: 'Image updated',
  restored: 'Restored',
};

/** "3 · Created" for a version, "4 · Restored from Nightly" for a restore, "—" for none. */
export function versionLabel(version) {
  if (!version) return '—';
  const reason = REASONS[version.reason] ?? version.reason;
  const from = version.reason === 'restored' && version.snapshotName
    ? ` from ${version.snapshotName}` : '';
  return `${version.number} · ${reason}${from}`;
}

/** What a snapshot's line says about its size: "files 2.1 MB · data 200 MB". */
export function snapshotSizes(snapshot) {
  return `files ${formatBytes(snapshot.filesSize)} · data ${formatBytes(snapshot.dataSize)}`;
}

/** The name a new snapshot is offered: "Snapshot 2026-12-03 18:04" in local time. */
export function defaultSnapshotName(now = new Date()) {
  const pad = (n) => String(n).padStart(2, '0');
  const day = `${now.getFullYear()}-${pad(now.getMonth() + 1)}-${pad(now.getDate())}`;
  return `Snapshot ${day} ${pad(now.getHours())}:${pad(now.getMinutes())}`;
}

/** A time from the backend (ms since the epoch or an RFC 3339 string), for people. */
export function formatTime(value) {
  if (value === null || value === undefined || value === '') return '—';
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return '—';
  return date.toLocaleString();
}

export const shortId = (id) => (id ? id.slice(0, 12) : '—');

/** The banner for the engine connection: hidden while connected. */
export function engineBanner(status) {
  if (!status || status.state === 'connected') return { visible: false, text: '' };
  if (status.state === 'connecting') {
    return { visible: true, text: `Connecting to the Docker engine at ${status.endpoint}…` };
  }
  const seconds = Math.max(1, Math.round((status.retryInMs ?? 0) / 1000));
  return {
    visible: true,
    text: `No Docker engine at ${status.endpoint}: ${status.reason}. ` +
      `Berth tries again every few seconds (next in ${seconds} s).`,
  };
}

/** The line under the bot list naming the engine. */
export function engineLine(status) {
  if (status?.state !== 'connected') return 'Engine: not connected';
  const { version, apiVersion, endpoint } = status.info;
  return `Docker ${version} · API ${apiVersion} · ${endpoint}`;
}

/** Field-level messages for the new-bot form, by error kind. */
export function formErrors(error) {
  if (!error) return { name: '', image: '', form: '' };
  if (error.kind === 'invalidName' || error.kind === 'nameTaken') {
    return { name: error.message, image: '', form: '' };
  }
  if (error.kind === 'invalidReference') return { name: '', image: error.message, form: '' };
  return { name: '', image: '', form: error.message };
}

/** How many samples (about one a second) the sparklines keep: the last five minutes. */
export const SAMPLES_KEPT = 300;

/** What the resource panel shows for the samples so far, newest last. */
export function resourceView(samples) {
  const latest = samples.at(-1);
  const cpu = latest?.cpuPercent;
  const used = latest?.memoryUsed;
  const limit = latest?.memoryLimit;
  const data = samples.findLast((s) => Number.isFinite(s.dataBytes))?.dataBytes;
  return {
    cpu: Number.isFinite(cpu) ? `${cpu.toFixed(1)} %` : '—',
    memory: Number.isFinite(used)
      ? `${formatBytes(used)}${Number.isFinite(limit) ? ` of ${formatBytes(limit)}` : ''}`
      : '—',
    data: Number.isFinite(data) ? formatBytes(data) : '—',
    cpuValues: samples.map((s) => s.cpuPercent),
    memoryValues: samples.map((s) => s.memoryUsed),
  };
}

/** SVG polyline points for values in a width × height box, oldest at the left; gaps (no
 * value) are skipped, and a flat or empty series lies on the bottom edge. */
export function sparklinePoints(values, width, height, slots = SAMPLES_KEPT) {
  const finite = values.filter(Number.isFinite);
  const max = Math.max(0, ...finite);
  const step = slots > 1 ? width / (slots - 1) : 0;
  const offset = slots - values.length;
  const points = [];
  values.forEach((value, i) => {
    if (!Number.isFinite(value)) return;
    const x = (offset + i) * step;
    const y = max > 0 ? height - (value / max) * height : height;
    points.push(`${x.toFixed(1)},${y.toFixed(1)}`);
  });
  return points.join(' ');
}

/** `base`, or `base (2)`, `base (3)`… whichever no name in `taken` has, ignoring case; at
 * most 64 characters, as snapshot names are. */
export function uniqueName(base, taken) {
  const used = new Set(taken.map((name) => name.toLowerCase()));
  const fit = (text, suffix) => `${[...text].slice(0, 64 - suffix.length).join('')}${suffix}`;
  let candidate = fit(base, '');
  for (let n = 2; used.has(candidate.toLowerCase()); n += 1) candidate = fit(base, ` (${n})`);
  return candidate;
}

const CANCELLED = {
  create: 'Create cancelled: nothing it made was left.',
  updateImage: 'Update cancelled: the container is as it was.',
  snapshot: 'Snapshot cancelled: nothing of it was kept.',
  restore: 'Restore cancelled: the container and its data are as they were.',
  export: 'Export cancelled: no file was written.',
  import: 'Import cancelled: the data directory is as it was.',
  resetData: 'Reset cancelled: what it had not removed yet is still there.',
};

/** What to tell after the user cancelled an operation of `kind`, or null when it says
 * nothing (short actions that cannot be cancelled). */
export const cancelledNote = (kind) => CANCELLED[kind] ?? null;
