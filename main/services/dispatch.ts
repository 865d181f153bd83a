// The single entry from any transport (Electron IPC, loopback HTTP) into the handler table: checks
// the channel name, runs the handler with a job context, and turns every outcome into an Envelope.
import { CHANNELS, type Channel, type Envelope, type ProgressEvent, type Req, type Res } from '../api/contract.ts';
import { AuditError, toApiError } from '../errors.ts';
import type { JobRegistry } from './jobs.ts';
import { checkRequest } from './request-shapes.ts';

export interface JobContext {
  jobId: string;
  signal: AbortSignal;
  progress(event: Omit<ProgressEvent, 'jobId' | 'channel'>): void;
}

export type Handler<C extends Channel> = (request: Req<C>, job: JobContext) => Promise<Res<C>>;
export type HandlerTable = { [C in Channel]: Handler<C> };

const known = new Set<string>(CHANNELS);

/** A job id names one running job in progress events and jobs.cancel: a short token from any transport
 *  (the renderer's are ~30 characters). */
export const MAX_JOB_ID = 200;

export function isChannel(name: string): name is Channel {
  return known.has(name);
}

export async function dispatch(
  handlers: HandlerTable,
  jobs: JobRegistry,
  channel: string,
  request: unknown,
  jobId: unknown,
  emit: (event: ProgressEvent) => void,
): Promise<Envelope<unknown>> {
  if (!isChannel(channel)) {
    return { ok: false, error: { code: 'BAD_REQUEST', message: `unknown channel "${channel}"` } };
  }
  if (request === null || typeof request !== 'object' || Array.isArray(request)) {
    return { ok: false, error: { code: 'BAD_REQUEST', message: `${channel}: the request must be an object` } };
  }
  if (jobId !== undefined && (typeof jobId !== 'string' || jobId.length > MAX_JOB_ID)) {
    return { ok: false, error: { code: 'BAD_REQUEST', message: `${channel}: jobId must be a string of at most ${MAX_JOB_ID} characters` } };
  }
  try {
    checkRequest(channel, request as Record<string, unknown>);
  } catch (err) {
    return { ok: false, error: toApiError(err) };
  }
  const id = typeof jobId === 'string' && jobId !== '' ? jobId : `job-${Math.random().toString(36).slice(2)}`;
  let signal: AbortSignal;
  try {
    signal = channel === 'jobs.cancel' ? new AbortController().signal : jobs.start(id);
  } catch (err) {
    return { ok: false, error: toApiError(err) };
  }
  const job: JobContext = {
    jobId: id,
    signal,
    progress: (e) => emit({ ...e, jobId: id, channel }),
  };
  try {
    const handler = handlers[channel] as Handler<typeof channel>;
    const value = await handler(request as never, job);
    if (signal.aborted) throw new AuditError('CANCELLED', 'cancelled by the user');
    return { ok: true, value };
  } catch (err) {
    return { ok: false, error: toApiError(signal.aborted && !(err instanceof AuditError) ? new AuditError('CANCELLED', 'cancelled by the user') : err) };
  } finally {
    if (channel !== 'jobs.cancel') jobs.finish(id);
  }
}
