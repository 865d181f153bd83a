// The headless host's side of the contract: the same LoraAuditApi the Electron preload exposes,
// spoken over loopback HTTP with the per-run token the host put in the page URL's fragment.
import {
  ApiFailure, type Channel, type Envelope, type InvokeOptions, type LoraAuditApi, type ProgressEvent, type Req, type Res,
} from '../../../main/api/contract.ts';

export function loopbackApi(token: string): LoraAuditApi {
  const listeners = new Map<string, (e: ProgressEvent) => void>();
  const events = new EventSource(`/api/events?token=${encodeURIComponent(token)}`);
  events.onmessage = (m) => {
    const e = JSON.parse(m.data) as ProgressEvent;
    listeners.get(e.jobId)?.(e);
  };
  const headers = { 'content-type': 'application/json', 'x-lora-audit-token': token };
  let counter = 0;

  async function post<T>(path: string, body: BodyInit, extra: Record<string, string> = {}): Promise<T> {
    const response = await fetch(path, { method: 'POST', headers: { ...headers, ...extra }, body });
    const envelope = (await response.json()) as Envelope<T>;
    if (!envelope.ok) throw new ApiFailure(envelope.error);
    return envelope.value;
  }

  return {
    host: 'headless',
    async invoke<C extends Channel>(channel: C, request: Req<C>, options: InvokeOptions = {}): Promise<Res<C>> {
      const jobId = options.jobId ?? `job-${Date.now().toString(36)}-${counter++}`;
      if (options.onProgress) listeners.set(jobId, options.onProgress);
      try {
        return await post<Res<C>>('/api/invoke', JSON.stringify({ channel, request, jobId }));
      } finally {
        listeners.delete(jobId);
      }
    },
    async cancel(jobId: string): Promise<void> {
      await post('/api/invoke', JSON.stringify({ channel: 'jobs.cancel', request: { jobId } }));
    },
    async pathsForFiles(files: File[]): Promise<string[]> {
      const paths: string[] = [];
      for (const file of files) {
        paths.push(await post<string>(`/api/upload?name=${encodeURIComponent(file.name)}`, file, { 'content-type': 'application/octet-stream' }));
      }
      return paths;
    },
  };
}
