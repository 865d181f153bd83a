// The preload exposes exactly the contract (LoraAuditApi) and nothing else: one invoke channel,
// one progress channel, cancellation, and paths for dropped files.
import { contextBridge, ipcRenderer, webUtils, type IpcRendererEvent } from 'electron';
import {
  ApiFailure, IPC_INVOKE, IPC_PROGRESS, type Channel, type Envelope, type InvokeOptions, type LoraAuditApi,
  type ProgressEvent, type Req, type Res,
} from '../api/contract.ts';

const progressListeners = new Map<string, (e: ProgressEvent) => void>();
ipcRenderer.on(IPC_PROGRESS, (_event: IpcRendererEvent, e: ProgressEvent) => progressListeners.get(e.jobId)?.(e));

let counter = 0;
const api: LoraAuditApi = {
  host: 'electron',
  async invoke<C extends Channel>(channel: C, request: Req<C>, options: InvokeOptions = {}): Promise<Res<C>> {
    const jobId = options.jobId ?? `job-${Date.now().toString(36)}-${counter++}`;
    if (options.onProgress) progressListeners.set(jobId, options.onProgress);
    try {
      const envelope = (await ipcRenderer.invoke(IPC_INVOKE, { channel, request, jobId })) as Envelope<Res<C>>;
      if (!envelope.ok) throw new ApiFailure(envelope.error);
      return envelope.value;
    } finally {
      progressListeners.delete(jobId);
    }
  },
  async cancel(jobId: string): Promise<void> {
    await ipcRenderer.invoke(IPC_INVOKE, { channel: 'jobs.cancel', request: { jobId } });
  },
  async pathsForFiles(files: File[]): Promise<string[]> {
    return files.map((f) => webUtils.getPathForFile(f)).filter((p) => p !== '');
  },
};

contextBridge.exposeInMainWorld('loraAudit', api);

/** For the contract test: what this preload exposes. */
export const EXPOSED_KEYS = Object.keys(api).sort();
