import { invoke } from '../ipc.js';

export const inspect = () => invoke('engine_inspect');
export const markPainted = () => invoke('window_mark_painted');
