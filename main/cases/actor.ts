// Who an audit entry names: the person who ran the action, as the examiner would sign it, plus the
// operating-system account that ran the process (what the machine itself can vouch for).
import { userInfo } from 'node:os';

export interface Actor {
  name: string;
  osUser: string;
}

/** The case's examiner, unless an explicit actor (--actor, or $LORA_AUDIT_ACTOR) says someone else acted. */
export function resolveActor(examiner: string, override?: string): Actor {
  const explicit = override?.trim() || process.env.LORA_AUDIT_ACTOR?.trim();
  return { name: explicit || examiner, osUser: osUserName() };
}

export function osUserName(): string {
  try {
    return userInfo().username;
  } catch {
    // userInfo() throws when the uid has no passwd entry (some containers)
    return process.env.USER ?? process.env.USERNAME ?? `uid:${process.getuid?.() ?? 'unknown'}`;
  }
}
