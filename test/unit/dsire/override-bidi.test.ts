// The override's justification is printed in a terminal, the report and the audit trail (security review
// of issue 18): every bidirectional control is refused, the Arabic letter mark (U+061C) too, which
// reorders the text around it as U+200F does.
import { describe, expect, it } from 'vitest';
import { checkJustification } from '../../../main/analysis/override.ts';

describe('the justification', () => {
  it('refuses every bidirectional control character, U+061C included', () => {
    for (const ch of ['\u061c', '\u200e', '\u200f', '\u202a', '\u202e', '\u2066', '\u2069']) {
      const hex = ch.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0');
      expect(() => checkJustification(`the same recipe ${ch}5 = 50`), `U+${hex}`).toThrow(expect.objectContaining({ code: 'BAD_JUSTIFICATION', message: expect.stringContaining(`U+${hex}`) }));
    }
    expect(checkJustification('same recipe: كوهيا')).toBe('same recipe: كوهيا');
  });

  it('refuses the zero-width characters and line separators that hide or break text, and keeps line breaks and tabs', () => {
    // "500" with a zero-width space inside reads as 500 and no longer matches it; U+2028 breaks the
    // report's line where the audit trail shows none
    for (const ch of ['\u200b', '\u200c', '\u200d', '\ufeff', '\u2028', '\u2029']) {
      const hex = ch.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0');
      expect(() => checkJustification(`trained on 5${ch}00 images`), `U+${hex}`).toThrow(expect.objectContaining({
        code: 'BAD_JUSTIFICATION',
        message: `the justification holds a control, text-direction, zero-width or line-separator character (U+${hex}); write it as plain text`,
      }));
    }
    expect(checkJustification('same recipe\n\tsame base model')).toBe('same recipe\n\tsame base model');
  });
});
