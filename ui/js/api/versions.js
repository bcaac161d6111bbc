import { invoke } from '../ipc.js';

export const list = (botId) => invoke('version_list', { botId });
