// The characters untrusted text may not carry where a person reads it (a terminal, a page, the PDF
// report, the audit trail): one class for every reader and check, so a name, a justification and a
// metadata value are judged alike.
//
// C0 and C1 controls and DEL (they move a terminal's cursor); U+061C, U+200E/F, U+202A–E, U+2066–9,
// the bidirectional marks, embeddings, overrides and isolates (they reorder text); U+200B–D and U+FEFF,
// the zero-width characters and BOM (they hide text or split a word so it no longer matches); U+2028/9,
// the line and paragraph separators (they break a line where a reader sees no line break).

export const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]/;

/** "U+202E" for a character, as messages name the one they refuse. */
export function codePointLabel(ch: string): string {
  return `U+${ch.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;
}

/** How a refused character is shown instead: `\u{202E}`. */
export function escapedCodePoint(cp: number): string {
  return `\\u{${cp.toString(16).toUpperCase()}}`;
}

const EVERY_UNPRINTABLE = new RegExp(UNPRINTABLE.source, 'g');

/** The text with every unprintable character written as `\u{…}`, for files a person reads with cat. */
export function escapeUnprintable(s: string): string {
  return s.replace(EVERY_UNPRINTABLE, (c) => escapedCodePoint(c.codePointAt(0)!));
}
