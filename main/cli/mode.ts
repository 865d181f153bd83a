// `--mode`, shared by `analyze` and `case analyze`: absent means the one default every host uses.
import { DEFAULT_MODE, MODES } from '../analysis/mode.ts';
import type { DsireMode } from '../dsire/types.ts';
import { usageError, type Values } from './framework.ts';

export function parseMode(values: Values): DsireMode {
  const mode = values.mode === undefined ? DEFAULT_MODE : String(values.mode);
  if (!(MODES as readonly string[]).includes(mode)) throw usageError(`--mode must be ${MODES.join(' or ')}, not "${mode}"`);
  return mode as DsireMode;
}
