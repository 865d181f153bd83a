// One error shape for the whole tool: a stable code a program can branch on, a sentence a person can
// act on, and the file it concerns. It crosses IPC, loopback and the CLI's --json as plain data.

export type ErrorCode =
  // input files
  | 'FILE_NOT_FOUND' | 'IS_DIRECTORY' | 'EMPTY_FILE' | 'TRUNCATED' | 'HEADER_TOO_LARGE' | 'BAD_HEADER'
  | 'BAD_OFFSETS' | 'OVERLAPPING_TENSORS' | 'DUPLICATE_KEY' | 'UNKNOWN_DTYPE' | 'SHAPE_MISMATCH'
  | 'RANK_MISMATCH' | 'LFS_POINTER' | 'NOT_SAFETENSORS' | 'UNSAFE_PICKLE' | 'UNSUPPORTED_FORMAT'
  | 'LIMIT_EXCEEDED' | 'BAD_CONFIG' | 'NOT_PARQUET' | 'BAD_SHARD' | 'BAD_ARCHIVE' | 'BAD_MANIFEST'
  // analysis
  | 'NOT_APPLICABLE' | 'NO_MODULES' | 'EMPTY_REFERENCE' | 'BACKEND_FAILED'
  // examiner overrides (issue 18): a hard refusal reason, or a missing or unusable justification
  | 'OVERRIDE_REFUSED' | 'BAD_JUSTIFICATION'
  // cases and reports
  | 'NOT_FOUND' | 'ALREADY_EXISTS' | 'HASH_MISMATCH' | 'AUDIT_BROKEN' | 'DB_TOO_NEW' | 'DB_ERROR' | 'BAD_KEY'
  | 'BAD_PASSPHRASE' | 'SIGNATURE_INVALID' | 'RENDER_FAILED'
  // plumbing
  | 'CANCELLED' | 'BAD_REQUEST' | 'UNAUTHORIZED' | 'INTERNAL';

/** Plain data, safe for structured clone and JSON. */
export interface ApiError {
  code: ErrorCode;
  message: string;
  file?: string;
  details?: Record<string, unknown>;
}

export class AuditError extends Error {
  readonly code: ErrorCode;
  readonly file: string | undefined;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, file?: string, details?: Record<string, unknown>) {
    super(file ? `${file}: ${message}` : message);
    this.name = 'AuditError';
    this.code = code;
    this.file = file;
    this.details = details;
  }

  toJSON(): ApiError {
    return toApiError(this);
  }
}

/** The file system's own errors that say what is wrong with a name a person gave: typed, not INTERNAL. */
const FILE_ERRORS: Record<string, Omit<ApiError, 'file'>> = {
  ENOENT: { code: 'FILE_NOT_FOUND', message: 'no such file or directory' },
  ENOTDIR: { code: 'FILE_NOT_FOUND', message: 'no such file or directory (a part of the path is not a folder)' },
  EISDIR: { code: 'IS_DIRECTORY', message: 'is a folder, not a file' },
  ENAMETOOLONG: { code: 'BAD_REQUEST', message: 'the path is longer than the file system allows' },
  ELOOP: { code: 'BAD_REQUEST', message: 'the path runs through a loop of symbolic links' },
  EACCES: { code: 'BAD_REQUEST', message: 'permission denied: this account may not open it' },
  EPERM: { code: 'BAD_REQUEST', message: 'operation not permitted on it' },
  EROFS: { code: 'BAD_REQUEST', message: 'it is on a read-only file system' },
  EEXIST: { code: 'ALREADY_EXISTS', message: 'it already exists' },
};

/** Any thrown value → the one error shape. Unknown errors become INTERNAL with their message kept. */
export function toApiError(err: unknown): ApiError {
  if (err instanceof AuditError) {
    const out: ApiError = { code: err.code, message: err.file ? err.message.slice(err.file.length + 2) : err.message };
    if (err.file) out.file = err.file;
    if (err.details) out.details = err.details;
    return out;
  }
  if (err && typeof err === 'object' && 'code' in err && typeof (err as { code: unknown }).code === 'string') {
    const code = (err as { code: string }).code;
    // own keys only: a thrown { code: 'constructor' } must not find Object's own members
    const known = Object.hasOwn(FILE_ERRORS, code) ? FILE_ERRORS[code] : undefined;
    const path = (err as { path?: unknown }).path;
    if (known) return { ...known, ...(typeof path === 'string' ? { file: path } : {}) };
  }
  const message = err instanceof Error ? err.message : String(err);
  return { code: 'INTERNAL', message };
}

export function isAuditError(err: unknown, code?: ErrorCode): err is AuditError {
  return err instanceof AuditError && (code === undefined || err.code === code);
}
