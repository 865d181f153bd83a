// The analysis mode every host uses when none is asked for. Its own small module so that hosts can name
// it without loading the parsers and compute backends.
import type { DsireMode } from '../dsire/types.ts';

/** Best mode picks, on the reference set itself, the variant with the lowest leave-one-name-out error,
 *  and falls back to the paper's faithful variant when the set is too small to measure (fewer than two
 *  names) or no variant measures better (faithful wins every tie). Every result states which variant ran
 *  (method.parameters.variant), and the report prints it. */
export const DEFAULT_MODE: DsireMode = 'best';

export const MODES: readonly DsireMode[] = ['faithful', 'best'];
