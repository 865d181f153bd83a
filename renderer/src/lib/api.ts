// The renderer's only door to the main process: the Electron preload's `window.loraAudit`, or, in
// the headless host, the same contract over loopback. Components import `api` from here.
import type { LoraAuditApi } from '../../../main/api/contract.ts';
import { loopbackApi } from './loopback.ts';

declare global {
  interface Window { loraAudit?: LoraAuditApi }
}

function connect(): LoraAuditApi {
  if (window.loraAudit) return window.loraAudit;
  const token = new URLSearchParams(location.hash.slice(1)).get('token');
  if (!token) throw new Error('LoRA Auditor: no connection to the main process (no preload and no host token)');
  return loopbackApi(token);
}

export const api: LoraAuditApi = connect();
export { ApiFailure } from '../../../main/api/contract.ts';
