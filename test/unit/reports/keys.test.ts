// Examiner keys made by the app: encrypted at rest, usable by the signer, readable by OpenSSL.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createExaminerKey, loadKey } from '../../../main/reports/keys.ts';
import { escapeHtml, renderReportHtml } from '../../../main/reports/template.ts';
import { makeModel } from './fixture.ts';

const PASS = 'correct horse battery';
let dir: string;
let p12: Uint8Array;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'lora-audit-keys-'));
  p12 = await createExaminerKey({ name: 'Ana Examiner', organisation: 'Audit Lab', email: 'ana@example.org' }, PASS);
  writeFileSync(join(dir, 'ana.p12'), p12);
}, 120_000);

afterAll(() => { if (dir) rmSync(dir, { recursive: true, force: true }); });

describe('examiner keys', () => {
  it('are a PKCS#12 whose private key is encrypted with the passphrase (OpenSSL agrees)', () => {
    const details = execFileSync('sh', ['-c', `openssl pkcs12 -in "${join(dir, 'ana.p12')}" -passin pass:"${PASS}" -info -noout 2>&1`], { encoding: 'utf8' });
    expect(details).toMatch(/Shrouded Keybag: PBES2, PBKDF2, AES-256-CBC/);
    expect(() => execFileSync('openssl', ['pkcs12', '-in', join(dir, 'ana.p12'), '-passin', 'pass:not the passphrase', '-noout'], { stdio: 'ignore' })).toThrow();
  });

  it('open with the passphrase into a self-signed signing certificate naming the examiner', () => {
    const key = loadKey(p12, PASS);
    expect(key.info).toMatchObject({ subject: 'Ana Examiner', organisation: 'Audit Lab', email: 'ana@example.org', issuer: 'Ana Examiner', selfSigned: true });
    expect(new Date(key.info.notAfter).getTime()).toBeGreaterThan(Date.now() + 365 * 86_400_000);
    expect(key.certificatePem).toMatch(/^-----BEGIN CERTIFICATE-----/);
  });

  it('refuse a wrong passphrase, a short passphrase and a file that is not PKCS#12', async () => {
    expect(() => loadKey(p12, 'wrong passphrase', 'ana.p12')).toThrow(expect.objectContaining({ code: 'BAD_PASSPHRASE', file: 'ana.p12' }));
    await expect(createExaminerKey({ name: 'X' }, 'short')).rejects.toMatchObject({ code: 'BAD_PASSPHRASE' });
    await expect(createExaminerKey({ name: '  ' }, PASS)).rejects.toMatchObject({ code: 'BAD_REQUEST' });
    expect(() => loadKey(new TextEncoder().encode('-----BEGIN CERTIFICATE-----'), PASS)).toThrow(expect.objectContaining({ code: expect.stringMatching(/BAD_KEY|BAD_PASSPHRASE/) }));
  });
});

describe('the report page', () => {
  it('escapes every untrusted string', () => {
    expect(escapeHtml(`<img src=x onerror="alert('1')">&`)).toBe('&lt;img src=x onerror=&quot;alert(&#39;1&#39;)&quot;&gt;&amp;');
    const model = makeModel('both');
    model.case.description = '</script><script>window.pwned=1</script>';
    model.results[0].result!.warnings.push('<b onmouseover=1>bold</b>');
    model.results[0].result!.spectra!.statistic = '</script><script>alert(2)</script>';
    const html = renderReportHtml(model);
    expect(html).not.toContain('<script>window.pwned=1</script>');
    expect(html).not.toContain('<b onmouseover=1>');
    expect(html).not.toContain('<script>alert(2)</script>');
    expect(html).toContain('pixel_style_v2&lt;script&gt;.safetensors');
    // scripts: the chart data, Chart.js and the page script; nothing from the model
    expect(html.match(/<script[\s>]/g)).toHaveLength(3);
  });

  it('needs no network: fonts are embedded and the policy forbids fetching anything', () => {
    const html = renderReportHtml(makeModel('both'));
    expect(html).toContain("default-src 'none'");
    expect(html).toMatch(/src:url\(data:font\/ttf;base64,/);
    expect(html).not.toMatch(/(src|href)=["']?(https?:|\/\/)/);
  });
});
