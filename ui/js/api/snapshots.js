import { channel, invoke } from '../ipc.js';

export const list = (botId) => invoke('snapshot_list', { botId });
export const remove = (botId, snapshotId) => invoke('snapshot_delete', { botId, snapshotId });

/** Starts taking a snapshot; onEvent gets started, progress and one finished message. */
export const create = (botId, name, onEvent) =>
  invoke('snapshot_create', { botId, name, onProgress: channel(onEvent) });

/** Starts a restore, first saving the current state as `saveAs` unless it is null. */
export const restore = (botId, snapshotId, saveAs, onEvent) =>
  invoke('snapshot_restore', { botId, snapshotId, saveAs, onProgress: channel(onEvent) });
