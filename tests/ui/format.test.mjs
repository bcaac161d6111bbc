// Unit tests of the UI's pure modules: `node --test tests/ui/`.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  actionsFor, cancelledNote, defaultSnapshotName, engineBanner, engineLine, formatBytes,
  formErrors, nextBar, percentOf, progressView, resourceView, snapshotSizes, sparklinePoints,
  stateLabel, uniqueName, versionLabel,
} from '../../ui/js/format.js';

test('bytes read as the docker CLI writes them', () => {
  assert.equal(formatBytes(0), '0 B');
  assert.equal(formatBytes(999), '999 B');
  assert.equal(formatBytes(1500), '1.5 kB');
  assert.equal(formatBytes(12_345_678), '12.3 MB');
  assert.equal(formatBytes(123_456_789), '123 MB');
  assert.equal(formatBytes(NaN), '—');
  assert.equal(formatBytes(-1), '—');
});

test('percent is whole, clamped, and null for anything not a number', () => {
  assert.equal(percentOf(0), 0);
  assert.equal(percentOf(0.999), 99);
  assert.equal(percentOf(1), 100);
  assert.equal(percentOf(1.7), 100);
  assert.equal(percentOf(-0.2), 0);
  assert.equal(percentOf(NaN), null);
  assert.equal(percentOf(Infinity), null);
  assert.equal(percentOf(null), null);
  assert.equal(percentOf(undefined), null);
});

test('progress without totals is indeterminate, never NaN', () => {
  const view = progressView({
    phase: 'pulling',
    pull: { fraction: null, bytesDone: 2048, bytesTotal: null, layers: [
      { id: 'abcdef0123456789', state: 'downloading', current: 2048, total: null },
    ] },
  });
  assert.equal(view.percent, null);
  assert.equal(view.label, 'Working…');
  assert.equal(view.detail, '2.0 kB');
  assert.deepEqual(view.layers, [{ id: 'abcdef012345', state: 'Downloading', percent: null }]);
  assert.ok(!JSON.stringify(view).includes('NaN'));
});

test('progress with totals shows bytes and percent', () => {
  const view = progressView({
    phase: 'pulling',
    pull: { fraction: 0.5, bytesDone: 50_000_000, bytesTotal: 100_000_000, layers: [
      { id: 'a', state: 'exists', current: 0, total: null },
      { id: 'b', state: 'extracting', current: 10, total: 10 },
    ] },
  });
  assert.equal(view.phase, 'Pulling image');
  assert.equal(view.percent, 50);
  assert.equal(view.label, '50 %');
  assert.equal(view.detail, '50.0 MB of 100 MB');
  assert.equal(view.layers[0].state, 'Already here');
  assert.equal(view.layers[1].percent, 100);
});

test('progress before any message is a neutral start', () => {
  const view = progressView(null);
  assert.equal(view.phase, 'Preparing');
  assert.equal(view.percent, null);
  assert.deepEqual(view.layers, []);
});

test('actions follow the container state and a running operation', () => {
  const none = { create: false, start: false, stop: false, remove: false, update: false,
    snapshot: false };
  assert.deepEqual(actionsFor('none', false), { ...none, create: true });
  assert.deepEqual(actionsFor('running', false),
    { ...none, stop: true, remove: true, update: true, snapshot: true });
  assert.deepEqual(actionsFor('stopped', false),
    { ...none, start: true, remove: true, update: true, snapshot: true });
  assert.deepEqual(actionsFor('missing', false), { ...none, create: true, remove: true });
  assert.deepEqual(actionsFor('running', true), none);
  assert.deepEqual(actionsFor('unreachable', false), none);
});

test('a copy with a known total shows a bar and how far it got', () => {
  const view = progressView({ phase: 'restoringData', transfer: { done: 50e6, total: 200e6 } });
  assert.equal(view.phase, 'Restoring data');
  assert.equal(view.percent, 25);
  assert.equal(view.detail, '50.0 MB of 200 MB');
});

test('a copy of unknown size is indeterminate but counts its bytes', () => {
  const view = progressView({ phase: 'savingData', transfer: { done: 1500, total: null } });
  assert.equal(view.percent, null);
  assert.equal(view.label, 'Working…');
  assert.equal(view.detail, '1.5 kB');
  assert.equal(progressView({ transfer: { done: 0, total: 0 } }).percent, null, 'no NaN');
});

test('a restored version names its snapshot', () => {
  assert.equal(versionLabel({ number: 4, reason: 'restored', snapshotName: 'Nightly' }),
    '4 · Restored from Nightly');
  assert.equal(versionLabel({ number: 1, reason: 'created', snapshotName: null }), '1 · Created');
});

test('snapshot sizes and default names read well', () => {
  assert.equal(snapshotSizes({ filesSize: 2100000, dataSize: 200000000 }),
    'files 2.1 MB · data 200 MB');
  assert.equal(defaultSnapshotName(new Date(2026, 11, 3, 8, 5)), 'Snapshot 2026-12-03 08:05');
});

test('engine banner names the endpoint and the reason, and hides when connected', () => {
  const down = engineBanner({
    state: 'unreachable', endpoint: 'unix:///var/run/docker.sock',
    reason: 'No such file or directory', retryInMs: 2000,
  });
  assert.equal(down.visible, true);
  assert.match(down.text, /unix:\/\/\/var\/run\/docker\.sock/);
  assert.match(down.text, /No such file or directory/);
  assert.match(down.text, /next in 2 s/);
  assert.equal(engineBanner({ state: 'connected', info: {} }).visible, false);
  assert.match(engineLine({ state: 'connected',
    info: { version: '20.10', apiVersion: '1.41', endpoint: 'unix:///x' } }), /Docker 20\.10/);
});

test('form errors land on the field their kind names', () => {
  assert.equal(formErrors({ kind: 'nameTaken', message: 'taken' }).name, 'taken');
  assert.equal(formErrors({ kind: 'invalidReference', message: 'bad' }).image, 'bad');
  assert.equal(formErrors({ kind: 'store', message: 'disk' }).form, 'disk');
  assert.deepEqual(formErrors(null), { name: '', image: '', form: '' });
});

test('every state has a label', () => {
  for (const state of ['none', 'creating', 'running', 'paused', 'restarting', 'stopped',
    'missing', 'unreachable']) {
    assert.notEqual(stateLabel(state), state);
  }
});

test('versions read as number and reason', async () => {
  const { versionLabel } = await import('../../ui/js/format.js');
  assert.equal(versionLabel({ number: 1, reason: 'created' }), '1 · Created');
  assert.equal(
    versionLabel({ number: 4, reason: 'recreated' }),
    '4 · Created again after a delete',
  );
  assert.equal(versionLabel({ number: 5, reason: 'imageUpdated' }), '5 · Image updated');
  assert.equal(versionLabel(null), '—');
});

test('the resource view shows the latest reading and the last measured data size', () => {
  const view = resourceView([
    { cpuPercent: null, memoryUsed: 1e6, memoryLimit: 2e9, dataBytes: 3e6 },
    { cpuPercent: 12.345, memoryUsed: 2e6, memoryLimit: 2e9, dataBytes: null },
  ]);
  assert.equal(view.cpu, '12.3 %');
  assert.equal(view.memory, '2.0 MB of 2.0 GB');
  assert.equal(view.data, '3.0 MB');
  assert.deepEqual(resourceView([]), {
    cpu: '—', memory: '—', data: '—', cpuValues: [], memoryValues: [],
  });
});

test('sparklines scale to the largest value, newest at the right, skipping gaps', () => {
  assert.equal(sparklinePoints([null, 50, 100], 100, 10, 3), '50.0,5.0 100.0,0.0');
  assert.equal(sparklinePoints([0, 0], 100, 10, 2), '0.0,10.0 100.0,10.0', 'flat lies low');
  assert.equal(sparklinePoints([], 100, 10, 5), '');
  assert.ok(!sparklinePoints([1, NaN, 2], 100, 10, 3).includes('NaN'));
});

test('suggested snapshot names do not repeat one the bot has', () => {
  assert.equal(uniqueName('Before restoring A', ['x']), 'Before restoring A');
  assert.equal(uniqueName('Before restoring A', ['before restoring a']), 'Before restoring A (2)');
  assert.equal(uniqueName('B', ['B', 'B (2)']), 'B (3)');
  const long = 'é'.repeat(70);
  assert.equal([...uniqueName(long, [])].length, 64);
  assert.equal([...uniqueName(long, ['é'.repeat(64)])].length, 64);
});

test('the bar never goes back within a phase and starts again in the next', () => {
  const views = [
    { phase: 'Checking every entry', percent: 40 },
    { phase: 'Checking every entry', percent: 30 },
    { phase: 'Checking every entry', percent: 100 },
    { phase: 'Importing data', percent: 5 },
    { phase: 'Importing data', percent: 20 },
    { phase: 'Importing data', percent: null },
    { phase: 'Importing data', percent: 10 },
  ];
  let shown = null;
  const seen = views.map((view) => {
    shown = nextBar(shown, view);
    return shown.percent;
  });
  assert.deepEqual(seen, [40, 40, 100, 5, 20, null, 20]);
});

test('a cancelled operation says what it left as it was', () => {
  assert.equal(cancelledNote('import'), 'Import cancelled: the data directory is as it was.');
  assert.match(cancelledNote('restore'), /as they were/);
  assert.equal(cancelledNote('start'), null, 'a short action says nothing');
  assert.equal(cancelledNote(undefined), null);
});

test('putting the data back after a failed import reads as such, not as emptying it', () => {
  assert.equal(progressView({ phase: 'puttingBack' }).phase, 'Putting the data directory back');
  assert.equal(progressView({ phase: 'clearing' }).phase, 'Emptying the data directory');
});
