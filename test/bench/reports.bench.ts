// Report pipeline timings: template → Chromium PDF → signature → verification, with our node-forge
// verifier against Debian's pdfsig (C, NSS) as the baseline for verification, and a warm render as the
// baseline for the rest. Run: ./node_modules/.bin/node test/bench/reports.bench.ts
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, cpus } from 'node:os';
import { join } from 'node:path';
import forge from 'node-forge';
import { loadKey } from '../../main/reports/keys.ts';
import { chromiumRenderer } from '../../main/reports/render.ts';
import { signPdf } from '../../main/reports/sign.ts';
import { FONTS_URL, renderReportHtml } from '../../main/reports/template.ts';
import { verifyReport } from '../../main/reports/verify.ts';
import { makeModel } from '../unit/reports/fixture.ts';
import { makePki, pdfsig } from '../unit/reports/pki.ts';

const RUNS = Number(process.env.BENCH_RUNS ?? 5);

async function time(fn: () => unknown | Promise<unknown>): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t = performance.now();
    await fn();
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

const work = mkdtempSync(join(tmpdir(), 'lora-audit-bench-'));
const pki = makePki();
try {
  const p12 = readFileSync(pki.p12);
  const model = makeModel('both');
  const rows: [string, number, string][] = [];

  const html = renderReportHtml(model);
  rows.push(['HTML template (fonts + Chart.js inlined)', await time(() => renderReportHtml(model)), 'render']);
  let launchMs = 0;
  {
    const t = performance.now();
    const r = await chromiumRenderer();
    launchMs = performance.now() - t;
    await r.close();
  }
  const renderer = await chromiumRenderer();
  let pdf: Uint8Array = new Uint8Array();
  const renderMs = await time(async () => { pdf = await renderer.render(html); });
  const fileFonts = renderReportHtml(model, { fontBase: FONTS_URL });
  const fileFontsMs = await time(() => renderer.render(fileFonts));
  await renderer.close();
  rows.push(['Chromium launch (once per process)', launchMs, 'render'],
    [`HTML → PDF, fonts embedded (${(html.length / 1e6).toFixed(1)} MB page; baseline)`, renderMs, 'render'],
    [`HTML → PDF, fonts by file: URL (${(fileFonts.length / 1e6).toFixed(1)} MB page)`, fileFontsMs, 'render']);

  const key = loadKey(p12, pki.passphrase);
  let signed: Uint8Array = new Uint8Array();
  rows.push(['sign: placeholder + CMS (key already open)', await time(async () => { signed = (await signPdf(pdf, { p12, passphrase: pki.passphrase, key })).pdf; }), 'render']);
  const file = join(work, 'bench.pdf');
  writeFileSync(file, signed);

  const pdfsigMs = await time(() => pdfsig(file, pki.nssDir));
  rows.push(['verify: Debian pdfsig (baseline)', pdfsigMs, 'verify']);
  rows.push(['verify: verifyReport (node-forge)', await time(() => verifyReport(file, { trust: [pki.caPem] })), 'verify']);

  // Opening the examiner's PKCS#12: forge derives keys in pure JS, so the iteration count is the cost.
  const kp = forge.pki.rsa.generateKeyPair({ bits: 2048 });
  const cert = forge.pki.createCertificate();
  cert.publicKey = kp.publicKey;
  cert.setSubject([{ name: 'commonName', value: 'bench' }]);
  cert.setIssuer([{ name: 'commonName', value: 'bench' }]);
  cert.validity.notAfter = new Date(Date.now() + 86_400_000);
  cert.sign(kp.privateKey, forge.md.sha256.create());
  const keyRows: [string, number][] = [];
  for (const count of [2_048, 10_000, 100_000]) {
    const der = Buffer.from(forge.asn1.toDer(forge.pkcs12.toPkcs12Asn1(kp.privateKey, [cert], 'bench pass', { algorithm: 'aes256', count })).getBytes(), 'binary');
    keyRows.push([`open PKCS#12, ${count.toLocaleString('en-GB')} iterations${count === 10_000 ? ' (keygen default)' : count === 2_048 ? ' (OpenSSL default, baseline)' : ''}`, await time(() => loadKey(der, 'bench pass'))]);
  }

  const base = (group: string) => group === 'render' ? renderMs : pdfsigMs;
  console.log(`reports bench: ${cpus().length} cores (${cpus()[0]?.model ?? 'unknown'}), Node ${process.version}, no GPU, median of ${RUNS}; PDF ${signed.byteLength.toLocaleString('en-GB')} bytes`);
  console.log('| step | ms | ratio |');
  console.log('|---|---:|---:|');
  for (const [name, ms, group] of rows) console.log(`| ${name} | ${ms.toFixed(1)} | ${(ms / base(group)).toFixed(2)}× |`);
  for (const [name, ms] of keyRows) console.log(`| ${name} | ${ms.toFixed(1)} | ${(ms / keyRows[0][1]).toFixed(2)}× |`);
} finally {
  rmSync(work, { recursive: true, force: true });
  rmSync(pki.dir, { recursive: true, force: true });
}
