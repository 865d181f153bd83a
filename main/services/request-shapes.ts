// What every channel's request may hold, checked by dispatch() before any handler runs, so a request
// with a field of the wrong type, a missing field, an unknown field or an unbounded string or list is
// refused as BAD_REQUEST naming the channel and the field, instead of failing inside a handler as
// INTERNAL (the fuzz harness found dozens: `caseId: 5`, `paths: "x"`, `sizes: [NaN]`, …).
//
// The table is typed against the contract: each channel lists exactly its request's fields (a missing
// or extra key does not compile), optional exactly where the contract says so, and each field's kind
// must fit its type. Bounds are generous for an examiner and small for an attacker: the work a request
// can start is limited before it starts.
import type { Channel, Req } from '../api/contract.ts';
import { AuditError } from '../errors.ts';

/** Characters in an id, name, title or path. */
const SHORT = 4096;
/** Characters in a note, description, justification or passphrase. */
const LONG = 100_000;
/** Entries in a list of paths, ids or sizes. */
const ITEMS = 10_000;

interface Optional { optional?: true }
interface StringSpec extends Optional { kind: 'string'; max?: number }
interface EnumSpec<T extends string = string> extends Optional { kind: 'enum'; values: readonly T[] }
interface BooleanSpec extends Optional { kind: 'boolean' }
interface NumberSpec extends Optional { kind: 'number'; min: number; max: number }
interface StringsSpec extends Optional { kind: 'strings'; max?: number; items?: number }
interface NumbersSpec extends Optional { kind: 'numbers'; min: number; max: number; items?: number }
interface StringMapSpec extends Optional { kind: 'stringMap'; keys: number }
interface FiltersSpec extends Optional { kind: 'filters' }
type FieldSpec = StringSpec | EnumSpec | BooleanSpec | NumberSpec | StringsSpec | NumbersSpec | StringMapSpec | FiltersSpec;

/** The kinds a field of type T may be declared as. */
type SpecFor<T> =
  [T] extends [boolean] ? BooleanSpec
  : [T] extends [number] ? NumberSpec
  : [T] extends [string] ? (string extends T ? StringSpec : EnumSpec<T>)
  : [T] extends [string[]] ? StringsSpec
  : [T] extends [number[]] ? NumbersSpec
  : [T] extends [Record<string, string>] ? StringMapSpec
  : FiltersSpec;

/** One spec per field of R, marked optional exactly when R's field is. */
type ShapeOf<R> = {
  [K in keyof R]-?: SpecFor<NonNullable<R[K]>> & ({} extends Pick<R, K> ? { optional: true } : { optional?: never });
};

type RequestShapes = { [C in Channel]: ShapeOf<Req<C>> };

const id = { kind: 'string' } as const;
const text = { kind: 'string', max: LONG } as const;
const paths = { kind: 'strings' } as const;
const mode = { kind: 'enum', values: ['faithful', 'best'], optional: true } as const;
const trainers = ['kohya', 'diffusers', 'builtin'] as const;

export const REQUEST_SHAPES: RequestShapes = {
  'app.info': {},
  'cases.list': { search: { kind: 'string', optional: true } },
  'cases.create': { title: id, examiner: id, organisation: { kind: 'string', optional: true }, description: { ...text, optional: true } },
  'cases.get': { caseId: id },
  'cases.addNote': { caseId: id, text },
  'cases.verify': { caseId: id },
  'cases.export': { caseId: id, out: id, keyPath: { kind: 'string', optional: true }, passphrase: { ...text, optional: true } },
  'cases.import': { archive: id, trust: { ...paths, optional: true } },
  'evidence.inspect': { path: id },
  'evidence.add': { caseId: id, paths, notes: { ...text, optional: true }, tags: { kind: 'strings', items: 100, optional: true } },
  'references.list': {},
  'references.import': { name: id, paths },
  'references.exportPack': { name: id, out: id },
  'references.importPack': { path: id, name: { kind: 'string', optional: true } },
  'references.reliability': { name: id, mode },
  'analysis.check': { caseId: id, evidenceId: id, referenceSet: id },
  'analysis.run': { caseId: id, evidenceIds: paths, referenceSet: id, mode, override: { ...text, optional: true } },
  'reports.create': { caseId: id, out: { kind: 'string', optional: true }, keyPath: id, passphrase: text },
  'reports.verify': { pdfPath: id, manifestPath: { kind: 'string', optional: true }, trust: { ...paths, optional: true } },
  'reports.preview': { caseId: id },
  'keys.create': { commonName: id, organisation: { kind: 'string', optional: true }, passphrase: text, out: { kind: 'string', optional: true } },
  'demo.open': {},
  'dialog.openFiles': { title: id, filters: { kind: 'filters', optional: true }, directories: { kind: 'boolean', optional: true }, multiple: { kind: 'boolean', optional: true } },
  'dialog.saveFile': { title: id, defaultName: id, filters: { kind: 'filters', optional: true } },
  'jobs.cancel': { jobId: id },
  'studies.draft': { caseId: id, evidenceId: id, trainer: { kind: 'enum', values: trainers, optional: true } },
  'studies.plan': {
    caseId: id, evidenceId: id, trainer: { kind: 'enum', values: trainers }, images: id,
    sizes: { kind: 'numbers', min: 1, max: 1e9, items: 1000 }, subjects: { kind: 'number', min: 1, max: 1e6, optional: true },
    set: { kind: 'stringMap', keys: 200, optional: true },
  },
  'studies.status': { bundle: id },
  'studies.run': { bundle: id, jobs: { kind: 'number', min: 1, max: 1024, optional: true } },
  'studies.import': { bundle: id, name: id },
};

/** The value as a request's reader sees it, for an error message: its type, never its content. */
function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return `a list of ${v.length}`;
  if (typeof v === 'string') return `a string of ${v.length} characters`;
  if (typeof v === 'number') return Number.isFinite(v) ? `the number ${v}` : String(v);
  return typeof v === 'object' ? 'an object' : `a ${typeof v}`;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** Why `v` does not fit `spec`, or null when it does. */
function mismatch(spec: FieldSpec, v: unknown): string | null {
  switch (spec.kind) {
    case 'string': {
      const max = spec.max ?? SHORT;
      if (typeof v !== 'string') return `must be a string (got ${describe(v)})`;
      if (v.length > max) return `is ${v.length} characters long, more than ${max}`;
      // no file system takes a NUL in a name, and no title or note needs one
      return v.includes('\u0000') ? 'contains a NUL character' : null;
    }
    case 'enum':
      return typeof v === 'string' && spec.values.includes(v) ? null : `must be one of ${spec.values.join(', ')} (got ${describe(v)})`;
    case 'boolean':
      return typeof v === 'boolean' ? null : `must be true or false (got ${describe(v)})`;
    case 'number':
      return typeof v === 'number' && Number.isFinite(v) && v >= spec.min && v <= spec.max
        ? null : `must be a number from ${spec.min} to ${spec.max} (got ${describe(v)})`;
    case 'strings':
    case 'numbers': {
      const items = spec.items ?? ITEMS;
      if (!Array.isArray(v)) return `must be a list (got ${describe(v)})`;
      if (v.length > items) return `holds ${v.length} entries, more than ${items}`;
      const entry: FieldSpec = spec.kind === 'strings' ? { kind: 'string', max: spec.max } : { kind: 'number', min: spec.min, max: spec.max };
      for (let i = 0; i < v.length; i++) {
        const why = mismatch(entry, v[i]);
        if (why) return `entry ${i} ${why}`;
      }
      return null;
    }
    case 'stringMap': {
      if (!isPlainObject(v)) return `must be an object of strings (got ${describe(v)})`;
      const keys = Object.keys(v);
      if (keys.length > spec.keys) return `holds ${keys.length} keys, more than ${spec.keys}`;
      for (const k of keys) {
        if (k.length > SHORT) return `has a key ${k.length} characters long, more than ${SHORT}`;
        const why = mismatch({ kind: 'string' }, v[k]);
        if (why) return `entry "${k.slice(0, 40)}" ${why}`;
      }
      return null;
    }
    case 'filters': {
      if (!Array.isArray(v)) return `must be a list of {name, extensions} (got ${describe(v)})`;
      if (v.length > 32) return `holds ${v.length} filters, more than 32`;
      for (let i = 0; i < v.length; i++) {
        const f = v[i];
        if (!isPlainObject(f)) return `entry ${i} must be {name, extensions} (got ${describe(f)})`;
        const extra = Object.keys(f).find((k) => k !== 'name' && k !== 'extensions');
        if (extra !== undefined) return `entry ${i} has an unknown field "${extra.slice(0, 40)}"`;
        const name = mismatch({ kind: 'string', max: 256 }, f.name);
        if (name) return `entry ${i} name ${name}`;
        const extensions = mismatch({ kind: 'strings', max: 32, items: 64 }, f.extensions);
        if (extensions) return `entry ${i} extensions ${extensions}`;
      }
      return null;
    }
  }
}

/**
 * Refuses a request that does not fit its channel's shape: BAD_REQUEST naming the channel and the
 * first field at fault. A field present with the value undefined (Electron's structured clone keeps
 * such keys) counts as absent.
 */
export function checkRequest(channel: Channel, request: Record<string, unknown>): void {
  const shape = REQUEST_SHAPES[channel] as Record<string, FieldSpec>;
  for (const key of Object.keys(request)) {
    if (!Object.hasOwn(shape, key)) {
      throw new AuditError('BAD_REQUEST', `${channel}: unknown field "${key.slice(0, 64)}"${key.length > 64 ? '…' : ''}`);
    }
  }
  for (const [key, spec] of Object.entries(shape)) {
    const value = request[key];
    if (value === undefined) {
      if (!spec.optional) throw new AuditError('BAD_REQUEST', `${channel}: ${key} is missing`);
      continue;
    }
    const why = mismatch(spec, value);
    if (why) throw new AuditError('BAD_REQUEST', `${channel}: ${key} ${why}`);
  }
}
