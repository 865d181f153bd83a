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
});
