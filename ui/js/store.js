// The one store of UI state. It changes only from command results and backend events;
// views read it and never keep state of their own beyond what the DOM holds.

export function createStore(initial) {
  let state = initial;
  const listeners = new Set();
  return {
    get: () => state,
    /** Applies a change: `patch` is an object, or a function of the state returning one. */
    update(patch) {
      const changes = typeof patch === 'function' ? patch(state) : patch;
      state = { ...state, ...changes };
      for (const listener of listeners) listener(state);
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}

export const initialState = () => ({
  engine: null,
  bots: [],
  botsLoaded: false,
  selectedBotId: null,
  /** Container status by bot id. */
  statuses: {},
  /** Container history by bot id, newest first. */
  versions: {},
  /** The running or just-ended operation by bot id: { info, progress, outcome }. */
  operations: {},
  /** The last failure to show by bot id: { kind, message }. */
  errors: {},
  /** The last word of an operation that changed nothing, by bot id. */
  notices: {},
  /** What concerns no bot Berth knows (containers labelled as its own), newest last. */
  appNotices: [],
});

/** Returns a copy of `map` with `key` set to `value`, or removed when value is undefined. */
export function withKey(map, key, value) {
  const copy = { ...map };
  if (value === undefined) delete copy[key];
  else copy[key] = value;
  return copy;
}
