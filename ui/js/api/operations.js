import { channel, invoke } from '../ipc.js';

export const list = () => invoke('operation_list');
export const cancel = (operationId) => invoke('operation_cancel', { operationId });

/** Follows a running operation from its latest state, as after a reload. */
export const watch = (operationId, onEvent) =>
  invoke('operation_watch', { operationId, onProgress: channel(onEvent) });

/** What Berth put right at start, operation by operation. */
export const repairs = () => invoke('repair_list');
