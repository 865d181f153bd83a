// An examiner's override of soft refusal reasons (issue 18): the justification every host checks the
// same way before anything runs. Light on purpose (errors only): a case checks it before it loads the
// analysis pipeline.
import { AuditError } from '../errors.ts';
import { codePointLabel, UNPRINTABLE } from '../common/text.ts';

/** The longest justification kept with a result (it is printed in the report and the audit trail). */
export const JUSTIFICATION_MAX = 2000;

/** An override's justification as it is kept: trimmed, not empty, at most JUSTIFICATION_MAX characters,
 *  and no unprintable character (main/common/text.ts) but line breaks and tabs (it is printed in a
 *  terminal, a report and the audit trail, where those could hide or reorder text). */
export function checkJustification(text: unknown): string {
  if (typeof text !== 'string' || text.trim() === '') {
    throw new AuditError('BAD_JUSTIFICATION', 'an override needs a justification: say in words why the comparison is meaningful despite the refusal');
  }
  const kept = text.replace(/\r\n?/g, '\n').trim();
  if (kept.length > JUSTIFICATION_MAX) {
    throw new AuditError('BAD_JUSTIFICATION', `the justification is ${kept.length} characters long; at most ${JUSTIFICATION_MAX} are kept with the result`);
  }
  const bad = UNPRINTABLE.exec(kept.replace(/[\n\t]/g, ' '));
  if (bad) {
    throw new AuditError('BAD_JUSTIFICATION', `the justification holds a control, text-direction, zero-width or line-separator character (${codePointLabel(bad[0])}); write it as plain text`);
  }
  return kept;
}
