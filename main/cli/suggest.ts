// "did you mean …?" for a mistyped option, command or subcommand: the closest known word by edit
// distance (insertions, deletions, substitutions and swaps of neighbours, each costing 1), offered
// only when it is close enough to be a typo rather than another word.

/** Optimal-string-alignment distance between a and b. */
export function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[][] = Array.from({ length: rows }, (_, i) => Array.from({ length: cols }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}

/** The known word closest to `typed` (a prefix counts as one edit), or null when none is within a
 *  third of the longer word's length (at least 1). Ties go to the earlier word in `known`. */
export function closest(typed: string, known: readonly string[]): string | null {
  let best: string | null = null;
  let bestDistance = Infinity;
  for (const word of known) {
    const allowed = Math.max(1, Math.floor(Math.max(typed.length, word.length) / 3));
    const prefix = typed.length >= 2 && word.startsWith(typed);
    // lengths further apart than the allowance cannot be close: skip the table (argv can be long)
    if (!prefix && Math.abs(typed.length - word.length) > allowed) continue;
    const distance = prefix ? 1 : editDistance(typed, word);
    if (distance <= allowed && distance < bestDistance) {
      best = word;
      bestDistance = distance;
    }
  }
  return best;
}
