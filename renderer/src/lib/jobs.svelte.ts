// Long work (hashing evidence, importing references, analyses, reports) runs as a job: the call is
// awaited without blocking the page, progress events update reactive state, and the user can cancel.
import type { ApiErrorShape, Channel, ProgressEvent, Req, Res } from '../../../main/api/contract.ts';
import { api } from './api.ts';
import { toErrorShape } from './errors.ts';

let counter = 0;

/** Every job running now, for the status line in the header. */
export const running: { jobs: { id: string; label: string; cancel: () => Promise<void> }[] } = $state({ jobs: [] });

export class Job {
  readonly label: string;
  id = $state('');
  active = $state(false);
  cancelling = $state(false);
  progress: ProgressEvent | null = $state(null);
  /** Latest event per file, for work over several files. */
  byFile: Record<string, ProgressEvent> = $state({});
  error: ApiErrorShape | null = $state(null);

  constructor(label: string) {
    this.label = label;
  }

  /** Runs one long call; resolves to its value, or to null after showing the error. */
  async run<C extends Channel>(channel: C, request: Req<C>): Promise<Res<C> | null> {
    this.id = `${channel}-${Date.now().toString(36)}-${counter++}`;
    this.active = true;
    this.cancelling = false;
    this.progress = null;
    this.byFile = {};
    this.error = null;
    const id = this.id;
    running.jobs.push({ id, label: this.label, cancel: () => this.cancel() });
    try {
      return await api.invoke(channel, request, {
        jobId: id,
        onProgress: (e) => {
          this.progress = e;
          if (e.file) this.byFile[e.file] = e;
        },
      });
    } catch (e) {
      this.error = toErrorShape(e);
      return null;
    } finally {
      this.active = false;
      const i = running.jobs.findIndex((j) => j.id === id);
      if (i >= 0) running.jobs.splice(i, 1);
    }
  }

  async cancel(): Promise<void> {
    if (!this.active) return;
    this.cancelling = true;
    await api.cancel(this.id);
  }
}
