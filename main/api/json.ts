// How the contract's data crosses JSON (the CLI's --json, the headless host's loopback): typed arrays
// become plain number lists (JSON.stringify would make them objects keyed "0", "1", …), bigints numbers.
// Electron's IPC needs none of this: structured clone keeps typed arrays.

export function jsonReplacer(_key: string, value: unknown): unknown {
  if (ArrayBuffer.isView(value) && !(value instanceof DataView)) return Array.from(value as unknown as ArrayLike<number>);
  if (typeof value === 'bigint') return Number(value);
  return value;
}
