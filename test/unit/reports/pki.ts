// A throwaway PKI made with openssl, as an examiner's organisation would have: a CA, an examiner
// certificate it issued (in a PKCS#12 with the CA certificate), and an NSS database that trusts the CA
// (for Debian's pdfsig).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestPki {
  dir: string;
  caPem: string;
  otherCaPem: string;
  p12: string;
  passphrase: string;
  nssDir: string;
}

const run = (cmd: string, args: string[], cwd: string) => execFileSync(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });

export function makePki(): TestPki {
  const dir = mkdtempSync(join(tmpdir(), 'lora-audit-pki-'));
  const passphrase = 'examiner passphrase';
  const ca = (name: string, key: string, pem: string) => run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', pem,
    '-days', '30', '-subj', `/CN=${name}/O=Test Lab`, '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], dir);
  ca('Test Forensic CA', 'ca.key', 'ca.pem');
  ca('Some Other CA', 'other.key', 'other.pem');
  run('openssl', ['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ex.key', '-out', 'ex.csr', '-subj', '/CN=Ana Examiner/O=Audit Lab/emailAddress=ana@example.org'], dir);
  writeFileSync(join(dir, 'ext.cnf'), 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,nonRepudiation\n');
  run('openssl', ['x509', '-req', '-in', 'ex.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'ex.pem', '-days', '30', '-extfile', 'ext.cnf'], dir);
  run('openssl', ['pkcs12', '-export', '-inkey', 'ex.key', '-in', 'ex.pem', '-certfile', 'ca.pem', '-out', 'ex.p12', '-passout', `pass:${passphrase}`], dir);
  const nssDir = join(dir, 'nss');
  run('mkdir', ['-p', nssDir], dir);
  run('certutil', ['-d', `sql:${nssDir}`, '-N', '--empty-password'], dir);
  run('certutil', ['-d', `sql:${nssDir}`, '-A', '-n', 'Test Forensic CA', '-t', 'CT,C,C', '-i', join(dir, 'ca.pem')], dir);
  return { dir, caPem: join(dir, 'ca.pem'), otherCaPem: join(dir, 'other.pem'), p12: join(dir, 'ex.p12'), passphrase, nssDir };
}

/** pdfsig's report; it exits non-zero for an invalid signature, which is an answer, not an error. */
export function pdfsig(pdf: string, nssDir?: string): string {
  try {
    return execFileSync('pdfsig', [...(nssDir ? ['-nssdir', `sql:${nssDir}`] : []), pdf], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string };
    return `${e.stdout ?? ''}${e.stderr ?? ''}`;
  }
}

export function pdftotext(pdf: string): string {
  return execFileSync('pdftotext', ['-layout', pdf, '-'], { encoding: 'utf8' });
}
