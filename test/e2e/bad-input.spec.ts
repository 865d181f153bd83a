// Bad input through the UI: a truncated adapter, a pickle, a "shard" that is not parquet, a "report"
// that is not a PDF. Each shows what happened, to which file and what to do; the case stays usable.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, expect } from './host.ts';
import { dropFiles, expectAccessible, fileFrom, realAdapters, shot } from './ui.ts';

// A pickle whose only instruction is to call posix.system: the tool must never run it.
const hostilePickle = Buffer.concat([Buffer.from([0x80, 0x02]), Buffer.from('cposix\nsystem\nX\x04\x00\x00\x00true\x85R.', 'latin1')]);

test('refused files explain themselves and the case stays usable', async ({ appPage: page, host }) => {
  const tmp = mkdtempSync(join(tmpdir(), 'lora-audit-bad-'));
  try {
    await expect(page.getByTestId('empty-cases')).toBeVisible({ timeout: 30_000 }); // the host warms up on its first call
    await page.getByLabel('Case title').fill('Bad input');
    await page.getByLabel('Examiner').fill('Bo Examiner');
    await page.getByRole('button', { name: 'Create case' }).click();
    await expect(page.getByTestId('case-title')).toHaveText('Bad input');

    // A truncated download and a hostile pickle, dropped together.
    await page.getByRole('button', { name: 'Add evidence' }).click();
    await dropFiles(page.getByTestId('drop-zone'), [
      fileFrom(join(realAdapters, 'diffusers-sdxl-attnproc-truncated-srikanth', 'pytorch_lora_weights.safetensors'), 'truncated_lora.safetensors'),
      { name: 'hostile_lora.bin', bytes: hostilePickle },
    ]);
    const truncated = page.getByTestId('error').filter({ hasText: 'truncated_lora.safetensors' });
    const pickle = page.getByTestId('error').filter({ hasText: 'hostile_lora.bin' });
    await expect(truncated).toBeVisible({ timeout: 60_000 });
    await expect(pickle).toBeVisible();
    for (const notice of [truncated, pickle]) {
      await expect(notice).toContainText('What to do:');
      await expect(notice).not.toHaveAttribute('data-code', 'INTERNAL');
    }
    await expect(truncated).toHaveAttribute('data-code', 'TRUNCATED');
    await expect(page.getByTestId('job-progress')).toHaveCount(0);
    await expectAccessible(page, 'add evidence with refused files');
    await shot(page, 'bad-01-refused-evidence');

    // The case still works: back to it, write a note, see it listed.
    await page.getByRole('button', { name: /Back to Bad input/ }).click();
    await expect(page.getByTestId('case-title')).toHaveText('Bad input');
    await page.getByLabel('Add a note to the case').fill('Both files refused; asked the uploader for complete copies.');
    await page.getByRole('button', { name: 'Add note' }).click();
    await expect(page.getByText('Both files refused; asked the uploader for complete copies.', { exact: true })).toBeVisible();

    // A "shard" that is not parquet.
    const fake = join(tmp, 'shard-000.parquet');
    writeFileSync(fake, 'name,size\nsomething,10\n');
    await page.getByRole('button', { name: 'Reference sets' }).click();
    await page.getByLabel('Reference set name').fill('not-really');
    host.answerDialogs([[fake]]);
    await page.getByRole('button', { name: 'Import LoRA-WiSE shards…' }).click();
    const shardError = page.getByTestId('error').filter({ hasText: 'shard-000.parquet' });
    await expect(shardError).toBeVisible({ timeout: 60_000 });
    await expect(shardError).toContainText('What to do:');
    await expect(shardError).not.toHaveAttribute('data-code', 'INTERNAL');
    await expect(page.getByRole('button', { name: 'Import LoRA-WiSE shards…' })).toBeEnabled();
    await shot(page, 'bad-02-not-parquet');

    // A "report" that is not a PDF.
    const notPdf = join(tmp, 'report.pdf');
    writeFileSync(notPdf, 'this is not a signed report');
    await page.getByRole('button', { name: 'Verify a report' }).click();
    host.answerDialogs([[notPdf]]);
    await page.getByRole('button', { name: 'Choose the report (PDF)…' }).click();
    await page.getByRole('button', { name: 'Verify', exact: true }).click();
    // Either a refusal with advice, or a verdict that says it is not verified: never "Verified".
    await expect(page.getByTestId('error').or(page.getByTestId('verdict'))).toBeVisible({ timeout: 30_000 });
    await expect(page.getByTestId('verdict')).not.toHaveText(/^(Verified|Intact)/);
    await shot(page, 'bad-03-not-a-report');

    // And the case is intact after all of it.
    await page.getByRole('button', { name: 'Cases' }).click();
    await page.getByRole('button', { name: /Bad input/ }).click();
    await expect(page.getByText('Both files refused; asked the uploader for complete copies.', { exact: true })).toBeVisible();
    await page.getByRole('button', { name: 'Verify the audit trail and evidence' }).click();
    await expect(page.getByTestId('verify-case')).toContainText('Intact');
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});
