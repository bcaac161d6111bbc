import { channel, invoke } from '../ipc.js';

/** Asks where to save, then exports; resolves to null when the user cancelled the dialog. */
export const exportData = (botId, onEvent) =>
  invoke('data_export', { botId, onProgress: channel(onEvent) });

/** Asks which archive to import ('merge' or 'replace'), first saving a snapshot named
 * `saveAs` unless it is null; resolves to null when the user cancelled the file dialog. */
export const importData = (botId, mode, saveAs, onEvent) =>
  invoke('data_import', { botId, mode, saveAs, onProgress: channel(onEvent) });

/** Empties the data directory, first saving a snapshot named `saveAs` unless it is null. */
export const resetData = (botId, saveAs, onEvent) =>
  invoke('data_reset', { botId, saveAs, onProgress: channel(onEvent) });
