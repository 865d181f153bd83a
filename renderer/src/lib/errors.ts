// Turns whatever a call threw into the contract's one error shape, and says what a person can do
// about each kind of error: the message says what happened, this says what to try next.
import type { ApiErrorShape, ErrorCode } from '../../../main/api/contract.ts';
// From the contract, not from api.ts: this module must load without a connection (unit tests).
import { ApiFailure } from '../../../main/api/contract.ts';

export function toErrorShape(e: unknown): ApiErrorShape {
  if (e instanceof ApiFailure) return e.error;
  if (e && typeof e === 'object' && 'code' in e && 'message' in e) return e as ApiErrorShape;
  // A failed fetch or a bug in the page: not the user's input, so say so plainly.
  return { code: 'INTERNAL', message: e instanceof Error ? e.message : String(e) };
}

// Typed by every code main raises: a code added to main/errors.ts without advice here fails the
// type-check (and test/unit/renderer/errors.test.ts), rather than falling back silently.
export const ADVICE: Record<ErrorCode, string> = {
  FILE_NOT_FOUND: 'Check that the file still exists where it was, then add it again.',
  IS_DIRECTORY: 'Pick the adapter file inside the folder rather than the folder itself.',
  EMPTY_FILE: 'The file has no content. Get a fresh copy from its source.',
  TRUNCATED: 'The file is incomplete (an interrupted download or copy). Get a complete copy from its source and add it again.',
  HEADER_TOO_LARGE: 'The header is larger than any real adapter’s. The file is damaged or not an adapter.',
  BAD_HEADER: 'The file’s header cannot be read. Check that it is a LoRA adapter (.safetensors) and not damaged.',
  BAD_OFFSETS: 'The tensors inside the file point outside it. The file is damaged; get a fresh copy.',
  OVERLAPPING_TENSORS: 'Tensors inside the file overlap. The file is damaged or crafted; get a copy from its source.',
  DUPLICATE_KEY: 'A tensor name appears twice. The file is damaged or crafted; get a copy from its source.',
  UNKNOWN_DTYPE: 'The file uses a number type this tool does not read. Convert it to float16/float32 safetensors.',
  SHAPE_MISMATCH: 'The matrices of a LoRA module do not fit together. The file is damaged or not a LoRA adapter.',
  RANK_MISMATCH: 'The A and B matrices disagree on the rank. The file is damaged or not a LoRA adapter.',
  LFS_POINTER: 'This is a Git LFS pointer, not the weights. Download the real file (git lfs pull) and add that.',
  NOT_SAFETENSORS: 'This is not a safetensors file. Add the adapter’s .safetensors file.',
  UNSAFE_PICKLE: 'Pickle files can run code, so this one was not opened. Ask for the adapter as .safetensors, or convert it in an isolated environment.',
  UNSUPPORTED_FORMAT: 'This adapter format is not supported. Convert it to diffusers, PEFT or kohya safetensors.',
  LIMIT_EXCEEDED: 'The file exceeds a safety limit. Check that it is a LoRA adapter and not a full model.',
  BAD_CONFIG: 'The adapter_config.json beside the file cannot be read. Fix or remove it and try again.',
  NOT_PARQUET: 'Reference shards must be LoRA-WiSE .parquet files. Pick the parquet shards (or a labelled folder).',
  BAD_SHARD: 'This shard does not have the LoRA-WiSE columns. Check that it comes from the benchmark, and import it again.',
  BAD_ARCHIVE: 'The archive is damaged or not a LoRA Auditor case archive.',
  BAD_MANIFEST: 'The manifest does not match. Ask the sender for the original files.',
  NOT_APPLICABLE: 'The reference set does not match this adapter. Choose or import references trained the same way.',
  NO_MODULES: 'No LoRA modules were found in the file. Check that it is a LoRA adapter.',
  EMPTY_REFERENCE: 'The reference set has no adapters yet. Import its shards (again) first.',
  BACKEND_FAILED: 'The compute backend failed. Try again; the tool falls back to the CPU.',
  OVERRIDE_REFUSED: 'A hard reason (method, rank, modules, shapes, scale, non-finite values) cannot be overridden. Use a reference set that matches the adapter.',
  BAD_JUSTIFICATION: 'Write in plain words why the comparison is meaningful despite the refusal (at most 2,000 characters).',
  ALREADY_EXISTS: 'Something with that name already exists. Choose another name, or use the existing one.',
  NOT_FOUND: 'It may have been removed. Go back to the case list and open it again.',
  HASH_MISMATCH: 'The stored copy no longer matches its recorded hash. Treat it as tampered and re-acquire the evidence.',
  AUDIT_BROKEN: 'The audit trail was altered outside the app. Preserve the data folder and report it.',
  DB_TOO_NEW: 'The case database was written by a newer version of LoRA Auditor. Update the app.',
  DB_ERROR: 'The case database could not be written. Check free disk space and permissions of the data folder.',
  BAD_KEY: 'The signing key cannot be read. Choose a .p12 file, or create a new key.',
  BAD_PASSPHRASE: 'The passphrase does not open this key. Type it again.',
  SIGNATURE_INVALID: 'The signature does not hold. Do not rely on this document; ask the sender for the original.',
  RENDER_FAILED: 'The report could not be rendered. Try again; if it persists, save the case archive and report it.',
  CANCELLED: 'You cancelled it. Start it again when you are ready; finished steps are kept.',
  BAD_REQUEST: 'The app sent a request the main process did not accept. Reload the window and try again.',
  UNAUTHORIZED: 'The connection to the main process was refused. Restart the app.',
  INTERNAL: 'Something unexpected went wrong. Try again; if it persists, note the message and report it.',
};

/** The advice for a code; a code this build does not know (a newer main's) gets INTERNAL's. Own keys
 *  only: a code such as 'constructor' must not find Object.prototype's. */
export function adviceFor(code: string): string {
  return Object.hasOwn(ADVICE, code) ? ADVICE[code as ErrorCode] : ADVICE.INTERNAL;
}
