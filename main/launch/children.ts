// The processes the launcher starts (the renderer build, the headless host, the browser), so that
// one stop ends them all and waits until they are gone: Ctrl-C leaves no orphan behind.
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';

export class Children {
  private readonly running = new Map<ChildProcess, string>();

  private readonly graceMs: number;

  /** graceMs: how long a child gets to stop after SIGTERM before SIGKILL. */
  constructor(graceMs = 5000) {
    this.graceMs = graceMs;
  }

  spawn(label: string, command: string, args: string[], options: SpawnOptions): ChildProcess {
    const child = spawn(command, args, options);
    this.running.set(child, label);
    child.once('exit', () => this.running.delete(child));
    child.once('error', () => this.running.delete(child));
    return child;
  }

  /** SIGTERM to every child still running, SIGKILL to any that outlives the grace period; resolves when all have exited. */
  async stopAll(): Promise<void> {
    await Promise.all([...this.running.keys()].map((child) => new Promise<void>((resolve) => {
      if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return resolve(); // never started, or gone
      const kill = setTimeout(() => child.kill('SIGKILL'), this.graceMs);
      child.once('exit', () => { clearTimeout(kill); resolve(); });
      child.kill('SIGTERM');
    })));
  }
}
