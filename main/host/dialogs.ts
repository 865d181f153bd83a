// The headless host has no native dialogs. Its answers come from a JSON file a test writes before
// it clicks ("the user picks these files"): an array, one answer per dialog, consumed in order.
// Without the file, every dialog is cancelled, as a user closing it would.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import type { Req } from '../api/contract.ts';

type Answer = string[] | string | null;

export function hostDialogs(file: string | undefined) {
  function next(): Answer | undefined {
    if (!file || !existsSync(file)) return undefined;
    const queue = JSON.parse(readFileSync(file, 'utf8')) as Answer[];
    const answer = queue.shift();
    writeFileSync(file, JSON.stringify(queue));
    return answer;
  }
  return {
    openFiles: async (_req: Req<'dialog.openFiles'>): Promise<string[]> => {
      const a = next();
      return Array.isArray(a) ? a : typeof a === 'string' ? [a] : [];
    },
    saveFile: async (_req: Req<'dialog.saveFile'>): Promise<string | null> => {
      const a = next();
      return typeof a === 'string' ? a : Array.isArray(a) ? (a[0] ?? null) : null;
    },
  };
}
