// lora-audit report …: issue a signed PDF report for a case, or make an examiner key to sign with.
//   lora-audit report <case> --out <file.pdf> --key <file.p12> [--passphrase …] [--db <path>] [--place …]
//   lora-audit report keygen --name <CN> --out <key.p12> [--org …] [--email …] [--passphrase …]
// One command (not two subcommands) because the case id sits where a subcommand name would.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { defaultDbPath } from '../../db/open.ts';
import { openDatabase } from '../../services/database.ts';
import { AuditError } from '../../errors.ts';
import { loadKey, writeExaminerKey, type CertificateInfo } from '../../reports/keys.ts';
import { chromiumRenderer } from '../../reports/render.ts';
import { createCaseReport, type CaseReport } from '../../reports/report.ts';
import { FONTS_URL } from '../../reports/template.ts';
import { requireString, usageError, type Command, type Values } from '../framework.ts';

export const PASSPHRASE_ENV = 'LORA_AUDIT_KEY_PASSPHRASE';

export type ReportOutput = CaseReport;

export interface KeygenOutput {
  key: string;
  certificate: string;
  signer: CertificateInfo;
}

type Output = ({ kind: 'report' } & ReportOutput) | ({ kind: 'keygen' } & KeygenOutput);

/** The key's passphrase: --passphrase, else $LORA_AUDIT_KEY_PASSPHRASE (case export uses it too). */
export function passphrase(values: Values): string {
  const p = typeof values.passphrase === 'string' ? values.passphrase : process.env[PASSPHRASE_ENV];
  if (!p) throw usageError(`the key's passphrase is required: --passphrase or the environment variable ${PASSPHRASE_ENV}`);
  return p;
}

async function keygen(values: Values): Promise<KeygenOutput> {
  const out = resolve(requireString(values, 'out'));
  const written = await writeExaminerKey(out, {
    name: requireString(values, 'name'),
    ...(typeof values.org === 'string' ? { organisation: values.org } : {}),
    ...(typeof values.email === 'string' ? { email: values.email } : {}),
  }, passphrase(values), { force: values.force === true });
  return { key: written.key, certificate: written.certificate, signer: written.info };
}

async function report(values: Values, caseRef: string, log: (l: string) => void): Promise<ReportOutput> {
  const out = requireString(values, 'out');
  const keyFile = resolve(requireString(values, 'key'));
  let p12: Uint8Array;
  try {
    p12 = readFileSync(keyFile);
  } catch {
    throw new AuditError('FILE_NOT_FOUND', 'the signing key file cannot be read', keyFile);
  }
  const pass = passphrase(values);
  const key = loadKey(p12, pass, keyFile);   // a wrong passphrase fails before Chromium starts
  const db = await openDatabase(typeof values.db === 'string' && values.db !== '' ? values.db : defaultDbPath());
  try {
    log(`rendering the report for case ${caseRef}…`);
    // The plain CPU backend: spectra for the chart are a few r×r eigenproblems per module, not worth
    // calibrating the GPU backends for.
    const { createFeatureEngine } = await import('../../../native/engine.ts');
    const engine = await createFeatureEngine({ backend: 'cpu' });
    const renderer = await chromiumRenderer().catch((err) => { engine.dispose(); throw err; });
    try {
      return await createCaseReport(db, caseRef, {
        out, p12, passphrase: pass, keyFile, key, renderer: renderer.render, fontBase: FONTS_URL, engine,
        ...(typeof values.place === 'string' ? { place: values.place } : {}),
        ...(typeof values.actor === 'string' ? { actor: values.actor } : {}),
      });
    } finally {
      await renderer.close();
      engine.dispose();
    }
  } finally {
    await db.close();
  }
}

export const command: Command<Output> = {
  name: 'report',
  summary: 'Render a case as a PDF report, sign it (CMS, adbe.pkcs7.detached) with the examiner\'s PKCS#12 key, write a signed ' +
    'manifest beside it, and record it in the case. `report keygen` makes a key pair and self-signed certificate for an ' +
    `examiner without a PKI. The passphrase comes from --passphrase or ${PASSPHRASE_ENV}.`,
  usage: 'report <case> --out <file.pdf> --key <file.p12> [--passphrase …] [--db <path>] [--place …] [--json]\n' +
    '       lora-audit report keygen --name <examiner> --out <key.p12> [--org …] [--email …] [--passphrase …] [--json]',
  options: {
    out: { type: 'string', short: 'o' },
    key: { type: 'string' },
    passphrase: { type: 'string' },
    db: { type: 'string' },
    place: { type: 'string' },
    actor: { type: 'string' },
    name: { type: 'string' },
    org: { type: 'string' },
    email: { type: 'string' },
    force: { type: 'boolean' },
  },
  async run(ctx, values, positionals) {
    if (positionals[0] === 'keygen') {
      if (positionals.length > 1) throw usageError('keygen takes no further arguments');
      return { data: { kind: 'keygen', ...(await keygen(values)) } };
    }
    if (positionals.length !== 1) throw usageError('give exactly one case id (or unique prefix)');
    return { data: { kind: 'report', ...(await report(values, positionals[0], ctx.log)) } };
  },
  human(data) {
    const s = data.signer;
    const who = `${s.subject}${s.organisation ? `, ${s.organisation}` : ''} (${s.selfSigned ? 'self-signed' : `issued by ${s.issuer}`}, serial ${s.serial})`;
    if (data.kind === 'keygen') {
      return `key written: ${data.key} (encrypted PKCS#12)\ncertificate: ${data.certificate}\n  ${who}\n  SHA-256 fingerprint ${s.sha256Fingerprint}\n` +
        'Give the certificate (not the key) to whoever verifies your reports: lora-audit verify <report.pdf> --trust <certificate>';
    }
    return `report: ${data.pdf} (${data.pages} pages, SHA-256 ${data.sha256})\nmanifest: ${data.manifest} (+ .sig)\nsigned by ${who}\n` +
      `recorded in case ${data.caseId} as report ${data.reportId}`;
  },
};
