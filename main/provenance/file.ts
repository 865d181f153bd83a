// A file → its identity (SHA-256) and, where intake can read it as a LoRA, its fingerprint. A file intake
// refuses still has an identity: identical-file matches need nothing more.
import { stat } from 'node:fs/promises';
import { sha256File } from '../common/hashing.ts';
import { isAuditError, toApiError, type ErrorCode } from '../errors.ts';
import { openAdapter } from '../intake/open.ts';
import { fingerprintAdapter, type Fingerprint } from './fingerprint.ts';

export interface FileFingerprint {
  /** The file read (a folder holding one adapter resolves to that adapter). */
  file: string;
  sha256: string;
  family: string;
  dtypes: string[];
  fp: Fingerprint | null;
  /** Why there is no fingerprint. */
  refusal: { code: ErrorCode; message: string } | null;
}

export interface FingerprintFileOptions {
  /** The SHA-256 the caller recorded (a stored evidence copy): a file that no longer has it gets no fingerprint. */
  expectedSha256?: string;
  signal?: AbortSignal;
}

/** Throws only when the file itself cannot be read (missing, a folder of several adapters …). */
export async function fingerprintFile(path: string, opts: FingerprintFileOptions = {}): Promise<FileFingerprint> {
  let adapter;
  try {
    adapter = await openAdapter(path);
  } catch (e) {
    if (!isAuditError(e) || ['FILE_NOT_FOUND', 'IS_DIRECTORY', 'CANCELLED'].includes(e.code)) throw e;
    // a folder holding one adapter: intake names the file it resolved to
    const file = e.file && (await stat(e.file).then((s) => s.isFile(), () => false)) ? e.file : path;
    const { sha256 } = await sha256File(file);
    return { file, sha256, family: 'unknown', dtypes: [], fp: null, refusal: refusal(e) };
  }
  const base = { file: adapter.identity.file, sha256: adapter.identity.sha256, family: adapter.family, dtypes: [...adapter.dtypes] };
  try {
    if (opts.expectedSha256 !== undefined && adapter.identity.sha256 !== opts.expectedSha256) {
      return { ...base, fp: null, refusal: { code: 'HASH_MISMATCH', message: `the file no longer has the SHA-256 recorded for it (${opts.expectedSha256})` } };
    }
    return { ...base, fp: await fingerprintAdapter(adapter, opts.signal), refusal: null };
  } catch (e) {
    if (!isAuditError(e) || e.code === 'CANCELLED') throw e;
    return { ...base, fp: null, refusal: refusal(e) };
  } finally {
    await adapter.source.close();
  }
}

function refusal(e: unknown): { code: ErrorCode; message: string } {
  const api = toApiError(e);
  return { code: api.code, message: api.message };
}
