// A whole case as one archive, for handing over to another examiner or machine. The format, its limits
// and checks are in archive/format.ts; export and import in archive/export.ts and archive/import.ts.
export { exportCase, readCaseRows, type ExportOptions } from './archive/export.ts';
export { importCase, type ImportOptions } from './archive/import.ts';
export {
  ARCHIVE_FORMAT, ARCHIVE_VERSION, LIMITS as ARCHIVE_LIMITS,
  type ArchiveManifest, type ArchiveSignature, type ArchiveSigner, type ArchiveSigning, type CaseRows, type ExportResult,
  type ImportResult, type VerifyCms,
} from './archive/format.ts';
