// The only module that touches window.__TAURI__: commands, events and channels.

function tauri() {
  if (!window.__TAURI__) throw new Error('Berth must run inside its app window');
  return window.__TAURI__;
}

/** Every failure has the backend's shape: { kind, message }. */
export function toError(error) {
  if (error && typeof error === 'object' && 'kind' in error && 'message' in error) return error;
  const message = error instanceof Error ? error.message : String(error);
  return { kind: 'internal', message };
}

export async function invoke(command, args = {}) {
  try {
    return await tauri().core.invoke(command, args);
  } catch (error) {
    throw toError(error);
  }
}

/** Calls handler with each event's payload; resolves to a function that stops listening. */
export function listen(event, handler) {
  return tauri().event.listen(event, (e) => handler(e.payload));
}

/** A channel for one long command's progress messages. */
export function channel(onMessage) {
  const ch = new (tauri().core.Channel)();
  ch.onmessage = onMessage;
  return ch;
}
