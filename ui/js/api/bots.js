import { invoke } from '../ipc.js';

export const list = () => invoke('bot_list');
export const create = (name, image) => invoke('bot_create', { name, image });
export const remove = (botId) => invoke('bot_delete', { botId });
