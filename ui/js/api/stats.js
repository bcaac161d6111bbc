import { channel, invoke } from '../ipc.js';

/** Streams the running container's resources to onSample; resolves to a watch id. */
export const watch = (botId, onSample) =>
  invoke('container_stats_watch', { botId, onSample: channel(onSample) });

export const unwatch = (watchId) => invoke('container_stats_unwatch', { watchId });
