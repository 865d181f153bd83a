// The handler table: one entry per contract channel, each a thin call into the plain-Node services.
// Transports (Electron IPC, the headless host, tests) reach these only through dispatch().
import { readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { checkFile } from '../analysis/analyze-file.ts';
import { setReliability } from '../analysis/reliability.ts';
import { summaryOf } from '../dsire/reliability.ts';
import { DEFAULT_MODE } from '../analysis/mode.ts';
import type { ApiErrorShape, CaseDetail, Channel, Req } from '../api/contract.ts';
import { listAnalyses, runAnalysis } from '../cases/analyses.ts';
import { exportCase, importCase, type ArchiveSigning } from '../cases/archive.ts';
import { listAudit } from '../cases/audit.ts';
import { createCase, getCase, listCases } from '../cases/cases.ts';
import { addEvidence, getEvidence, listEvidence } from '../cases/evidence.ts';
import { addNote, listNotes } from '../cases/notes.ts';
import { listReports } from '../cases/reports.ts';
import { verifyCase } from '../cases/verify.ts';
import { appVersion } from '../cases/version.ts';
import { DSIRE_VERSION } from '../dsire/analyze.ts';
import { AuditError, toApiError } from '../errors.ts';
import { inspectFile } from '../intake/inspect.ts';
import { importReference } from '../reference/import-parquet.ts';
import { exportPack, importPack } from '../reference/pack.ts';
import { getReferenceSetSummary, listReferenceSets, loadReferenceSet } from '../reference/store.ts';
import { signDetachedCms, verifyDetachedCms } from '../reports/cms.ts';
import { loadKey, writeExaminerKey } from '../reports/keys.ts';
import { buildReportModel } from '../reports/model.ts';
import { createCaseReport } from '../reports/report.ts';
import { checkSignedStatement } from '../reports/signed-statement.ts';
import { renderReportHtml } from '../reports/template.ts';
import { verifyReport } from '../reports/verify.ts';
import type { HandlerTable, JobContext } from './dispatch.ts';
import type { ServiceOptions, Services } from './create.ts';
import { openDemo } from './demo.ts';
import { studyHandlers } from './studies.ts';
import { throwIfCancelled } from './jobs.ts';
import { analysisView, auditView, caseView, evidenceView, inspectView, noteView, referenceView, reliabilityView, reportView } from './views.ts';

export function createHandlers(s: Services, options: ServiceOptions): HandlerTable {
  const { db } = s;

  async function counts(): Promise<Map<string, { evidence: number; analyses: number }>> {
    const rows = await db.all<{ case_id: string; evidence: number; analyses: number }>(`
      SELECT c.id AS case_id,
        (SELECT COUNT(*) FROM evidence e WHERE e.case_id = c.id) AS evidence,
        (SELECT COUNT(*) FROM analyses a WHERE a.case_id = c.id) AS analyses
      FROM cases c`);
    return new Map(rows.map((r) => [r.case_id, { evidence: r.evidence, analyses: r.analyses }]));
  }

  async function caseDetail(caseId: string): Promise<CaseDetail> {
    const kase = await getCase(db, caseId);
    const [evidence, analyses, reports, notes, audit, c] = await Promise.all([
      listEvidence(db, kase.id), listAnalyses(db, kase.id), listReports(db, kase.id), listNotes(db, kase.id),
      listAudit(db, kase.id), counts(),
    ]);
    return {
      case: caseView(kase, c.get(kase.id) ?? { evidence: 0, analyses: 0 }),
      evidence: evidence.map(evidenceView),
      analyses: analyses.map(analysisView),
      reports: reports.map(reportView),
      notes: notes.map(noteView),
      audit: audit.map(auditView),
    };
  }

  const handlers: HandlerTable = {
    ...studyHandlers(s),
    'app.info': async () => {
      const engine = await s.engine();
      return {
        appName: 'LoRA Auditor', version: options.appVersion ?? appVersion(), methodVersion: DSIRE_VERSION,
        host: options.host, dataDir: s.dataDir, dbPath: s.dbPath,
        backend: { name: engine.info.name, reason: engine.info.reason, candidates: engine.info.candidates },
        offline: true, demoAvailable: true,
      };
    },

    'cases.list': async ({ search }) => {
      const [all, c] = await Promise.all([listCases(db), counts()]);
      const needle = search?.trim().toLowerCase();
      return all
        .filter((k) => !needle || [k.title, k.examiner, k.organisation, k.description, k.id].some((f) => f.toLowerCase().includes(needle)))
        .map((k) => caseView(k, c.get(k.id) ?? { evidence: 0, analyses: 0 }));
    },
    'cases.create': async (req) => caseView(await createCase(db, req), { evidence: 0, analyses: 0 }),
    'cases.get': async ({ caseId }) => caseDetail(caseId),
    'cases.addNote': async ({ caseId, text }) => noteView(await addNote(db, caseId, text)),
    'cases.verify': async ({ caseId }) => {
      const v = await verifyCase(db, caseId, { checkSignedStatement });
      const view = (p: (typeof v.problems)[number]) => ({ kind: p.kind, message: p.message, ...(p.seq !== undefined ? { seq: p.seq } : {}), ...(p.evidenceId ? { evidenceId: p.evidenceId } : {}) });
      return { ok: v.ok, problems: v.problems.map(view), warnings: v.warnings.map(view) };
    },
    'cases.export': async ({ caseId, out, keyPath, passphrase }, job) => {
      let signing: ArchiveSigning | undefined;
      if (keyPath) {
        const key = loadKey(new Uint8Array(await readFile(keyPath)), passphrase ?? '', keyPath); // a wrong passphrase fails before anything is written
        signing = { sign: (data) => signDetachedCms(data, key), signer: key.info };
      }
      const r = await exportCase(db, caseId, out, { checkSignedStatement, ...(signing ? { signing } : {}), ...archiveJob(job, 'exporting the case') });
      return { path: r.file, sha256: r.sha256, signed: r.signed, ...(r.signer ? { signer: r.signer } : {}) };
    },
    'cases.import': async ({ archive, trust }, job) => {
      const r = await importCase(db, archive, { trust: trust ?? [], verifyCms: verifyDetachedCms, ...archiveJob(job, 'importing the case') });
      return { ...(await caseDetail(r.caseId)).case, signature: r.signature };
    },

    'evidence.inspect': async ({ path }) => inspectView(await inspectFile(path)),
    'evidence.add': async ({ caseId, paths, notes, tags }, job) => {
      const added = [];
      const errors: ApiErrorShape[] = [];
      for (const [i, path] of paths.entries()) {
        throwIfCancelled(job.signal);
        job.progress({ phase: 'hashing and inspecting', done: i, total: paths.length, unit: 'files', message: `${basename(path)} (${i + 1} of ${paths.length})`, file: path });
        try {
          added.push(evidenceView(await addEvidence(db, caseId, path, { ...(notes ? { notes } : {}), ...(tags ? { tags } : {}) })));
        } catch (err) {
          const e = toApiError(err);
          errors.push({ ...e, file: e.file ?? path });
        }
      }
      job.progress({ phase: 'done', done: paths.length, total: paths.length, unit: 'files', message: `${added.length} added` });
      return { added, errors };
    },

    'references.list': async () => (await listReferenceSets(db)).map(referenceView),
    'references.import': async ({ name, paths }, job) => {
      const report = await importReference(db, {
        name, paths, engine: await s.engine(), signal: job.signal,
        onProgress: (p) => job.progress({
          phase: p.phase, done: p.bytesDone, total: p.bytesTotal, unit: 'bytes',
          message: `${p.phase}${p.file ? ` ${basename(p.file)}` : ''}`, ...(p.file ? { file: p.file } : {}),
          adaptersDone: p.adaptersDone, adaptersTotal: p.adaptersTotal ?? null,
        }),
      });
      throwIfCancelled(job.signal);
      if (!report.set) {
        const first = report.errors[0];
        throw new AuditError(first?.code ?? 'BAD_SHARD', first?.message ?? 'nothing could be imported', first?.file);
      }
      return {
        set: referenceView(report.set),
        imported: report.imported.map((i) => i.file),
        skipped: report.skipped.map((i) => i.file),
        errors: [
          ...report.errors.map((e) => ({ code: e.code, message: e.message, file: e.file })),
          ...report.findings.filter((f) => f.severity === 'error').map((f) => ({ code: f.code, message: `${f.row !== undefined ? `row ${f.row}: ` : ''}${f.message}`, file: f.file })),
        ],
      };
    },
    'references.exportPack': async ({ name, out }) => {
      const info = await exportPack(db, name, out);
      return { path: info.file, sha256: info.sha256 };
    },
    'references.importPack': async ({ path, name }) => referenceView(await importPack(db, path, name ? { name } : {})),
    'references.reliability': async ({ name, mode = DEFAULT_MODE }, job) => {
      const ref = await loadReferenceSet(db, name);
      const outcome = await setReliability(db, ref, mode, {
        signal: job.signal,
        onProgress: (p) => job.progress({ phase: p.phase, done: p.done, total: p.total, unit: 'steps', message: p.message }),
      });
      return {
        referenceSet: ref.name, mode,
        reliability: 'record' in outcome ? reliabilityView(summaryOf(outcome.record)) : null,
        unavailable: 'unavailable' in outcome ? outcome.unavailable : null,
      };
    },

    'analysis.check': async ({ caseId, evidenceId, referenceSet }) => {
      const kase = await getCase(db, caseId);
      const item = await getEvidence(db, kase.id, evidenceId);
      const set = await getReferenceSetSummary(db, referenceSet);
      try {
        return await checkFile(item.storedPath, set.config, item.sha256);
      } catch (err) {
        const text = `the evidence cannot be read: ${toApiError(err).message}`;
        return { applicable: false, reasons: [text], refusals: [{ code: 'UNREADABLE', kind: 'hard', text }] };
      }
    },
    'analysis.run': async ({ caseId, evidenceIds, referenceSet, mode = DEFAULT_MODE, override }, job) => {
      const kase = await getCase(db, caseId);
      await getReferenceSetSummary(db, referenceSet); // a missing set fails the whole request, naming it
      const ids = evidenceIds.length > 0 ? evidenceIds : (await listEvidence(db, kase.id)).map((e) => e.id);
      const engine = await s.engine();
      const done = [];
      for (const [i, id] of ids.entries()) {
        throwIfCancelled(job.signal);
        job.progress({ phase: 'analysing', done: i, total: ids.length, unit: 'files', message: `evidence ${i + 1} of ${ids.length}` });
        const failed = (error: ApiErrorShape) => ({
          id: '', caseId: kase.id, evidenceId: id, referenceSet, mode, startedAt: new Date().toISOString(),
          finishedAt: null, backend: engine.info.name, result: null, error,
        });
        // One item that cannot be analysed does not cost the others their results.
        try {
          const outcome = await runAnalysis(db, kase.id, id, referenceSet, { mode, ...(override !== undefined ? { override } : {}) }, engine);
          done.push(outcome.status === 'done' ? analysisView(outcome.analysis) : failed({ code: outcome.finding.code, message: outcome.finding.message }));
        } catch (err) {
          const e = toApiError(err);
          if (e.code === 'CANCELLED') throw err;
          done.push(failed(e));
        }
      }
      job.progress({ phase: 'done', done: ids.length, total: ids.length, unit: 'files', message: 'analysis finished' });
      return done;
    },

    'reports.preview': async ({ caseId }) => ({ html: renderReportHtml(await buildReportModel(db, caseId)) }),
    'reports.create': async ({ caseId, out, keyPath, passphrase }, job) => {
      const p12 = new Uint8Array(await readFile(keyPath));
      const key = loadKey(p12, passphrase, keyPath); // a wrong passphrase fails here, before any rendering
      throwIfCancelled(job.signal);
      job.progress({ phase: 'rendering', done: 0, total: 1, unit: 'steps', message: 'assembling, printing and signing the report' });
      const kase = await getCase(db, caseId);
      const target = out ?? join(s.dataDir, 'reports', `${kase.id}-${new Date().toISOString().replace(/[:.]/g, '-')}.pdf`);
      const r = await createCaseReport(db, kase.id, { out: target, p12, passphrase, keyFile: keyPath, key, renderer: await s.renderer(), engine: await s.engine() });
      job.progress({ phase: 'done', done: 1, total: 1, unit: 'steps', message: 'report signed and recorded in the case' });
      return { pdf: r.pdf, manifest: r.manifest, sha256: r.sha256, signer: r.signer.subject, pages: r.pages };
    },
    'reports.verify': async ({ pdfPath, manifestPath, trust }) => {
      const v = await verifyReport(pdfPath, { ...(manifestPath ? { manifestPath } : {}), ...(trust ? { trust } : {}), db });
      return {
        ok: v.ok, signatureValid: v.signatureValid, documentUnmodified: v.documentUnmodified, trusted: trust?.length ? v.trusted : null,
        signer: v.signer ? { commonName: v.signer.subject, ...(v.signer.organisation ? { organisation: v.signer.organisation } : {}), serial: v.signer.serial, notBefore: v.signer.notBefore, notAfter: v.signer.notAfter, sha256Fingerprint: v.signer.sha256Fingerprint } : null,
        signatures: v.signatures.map((g) => ({ subject: g.signer?.subject ?? null, sha256Fingerprint: g.sha256Fingerprint, signingTime: g.signingTime, coversWholeDocument: g.coversWholeDocument, signatureValid: g.signatureValid })),
        manifest: v.manifest ? {
          checked: true,
          ok: v.manifest.signatureValid && v.manifest.sameSigner && v.manifest.pdfSha256Matches && v.manifest.evidenceMatchesCase !== false,
          problems: [
            ...(v.manifest.signatureValid ? [] : ['the manifest signature is not valid']),
            ...(v.manifest.sameSigner ? [] : ['the manifest was signed by another certificate than the PDF']),
            ...(v.manifest.pdfSha256Matches ? [] : ['the PDF is not the one the manifest names (SHA-256 differs)']),
            ...(v.manifest.evidenceMatchesCase === false ? ['the evidence hashes differ from the case'] : []),
          ],
        } : null,
        problems: v.problems,
      };
    },
    'keys.create': async ({ commonName, organisation, passphrase, out }) => {
      const path = out ?? join(s.dataDir, 'keys', `${commonName.replace(/[^\w.-]+/g, '_')}.p12`);
      const written = await writeExaminerKey(path, { name: commonName, ...(organisation ? { organisation } : {}) }, passphrase);
      return { path: written.key, certificatePath: written.certificate, commonName: written.info.subject, fingerprint: written.info.sha256Fingerprint };
    },

    'demo.open': async (_req, job) => caseDetail(await openDemo(s, job)),

    'dialog.openFiles': async (req) => options.openFiles(req),
    'dialog.saveFile': async (req) => options.saveFile(req),
    'jobs.cancel': async ({ jobId }) => ({ cancelled: s.jobs.cancel(jobId) }),
  };
  return handlers;
}

export type { Channel, Req, JobContext };

/** An archive job reports files done and honours the job's cancel (a large case is minutes of hashing). */
function archiveJob(job: JobContext, phase: string): { signal: AbortSignal; onProgress(done: number, total: number, file: string): void } {
  return {
    signal: job.signal,
    onProgress: (done, total, file) => job.progress({ phase, done, total, unit: 'files', message: file }),
  };
}
