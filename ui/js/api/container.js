import { channel, invoke } from '../ipc.js';

export const inspect = (botId) => invoke('container_inspect', { botId });
export const start = (botId) => invoke('container_start', { botId });
export const stop = (botId) => invoke('container_stop', { botId });
export const remove = (botId, keepData) => invoke('container_delete', { botId, keepData });

/** Starts a create; onEvent gets started, progress and one finished message. */
export const create = (botId, onEvent) =>
  invoke('container_create', { botId, onProgress: channel(onEvent) });

/** Pulls the image again (or `image`) and re-creates the container if it changed. */
export const updateImage = (botId, image, onEvent) =>
  invoke('container_update_image', { botId, image, onProgress: channel(onEvent) });
