import { invoke } from '../ipc.js';

export const status = () => invoke('engine_status');
export const painted = () => invoke('window_painted');
