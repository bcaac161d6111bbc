import assert from 'node:assert/strict';
import { test } from 'node:test';

import { createStore, initialState, withKey } from '../../ui/js/store.js';

test('updates merge and notify subscribers with the new state', () => {
  const store = createStore(initialState());
  const seen = [];
  const stop = store.subscribe((s) => seen.push(s.selectedBotId));
  store.update({ selectedBotId: 'a' });
  store.update((s) => ({ selectedBotId: `${s.selectedBotId}b` }));
  stop();
  store.update({ selectedBotId: 'c' });
  assert.deepEqual(seen, ['a', 'ab']);
  assert.equal(store.get().selectedBotId, 'c');
  assert.deepEqual(store.get().bots, [], 'untouched keys stay');
});

test('withKey copies, sets and removes without touching the original', () => {
  const original = { a: 1 };
  const added = withKey(original, 'b', 2);
  const removed = withKey(added, 'a', undefined);
  assert.deepEqual(original, { a: 1 });
  assert.deepEqual(added, { a: 1, b: 2 });
  assert.deepEqual(removed, { b: 2 });
});
