// Long work runs under a jobId the caller chose: progress events carry it, and jobs.cancel aborts
// the job's AbortSignal. Services check the signal between steps and throw CANCELLED.
import { AuditError } from '../errors.ts';

export class JobRegistry {
  private readonly running = new Map<string, AbortController>();

  start(jobId: string): AbortSignal {
    if (this.running.has(jobId)) throw new AuditError('BAD_REQUEST', `job ${jobId} is already running`);
    const controller = new AbortController();
    this.running.set(jobId, controller);
    return controller.signal;
  }

  finish(jobId: string): void {
    this.running.delete(jobId);
  }

  cancel(jobId: string): boolean {
    const controller = this.running.get(jobId);
    if (!controller) return false;
    controller.abort(new AuditError('CANCELLED', 'cancelled by the user'));
    return true;
  }

  get size(): number {
    return this.running.size;
  }
}

export function throwIfCancelled(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new AuditError('CANCELLED', 'cancelled by the user');
}
