// Long work can be cancelled from the UI: a reference import large enough to still be running when
// the user clicks Cancel stops, says so, and leaves the app usable; the set is left marked
// incomplete with a way to resume.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { test, expect } from './host.ts';
import { DEMO } from './demo-files.ts';
import { shot } from './ui.ts';

/** The demo shard's rows, repeated under new names: a benchmark big enough to take a while. */
async function bigShard(out: string, copies: number): Promise<void> {
  const instance = await DuckDBInstance.create(':memory:');
  const c = await instance.connect();
  const src = DEMO.benchmark[0].replaceAll("'", "''");
  await c.run(`COPY (SELECT t.* REPLACE (t.name || '-copy' || r.range AS name) FROM read_parquet('${src}') t, range(${copies}) r)
    TO '${out.replaceAll("'", "''")}' (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 10, KV_METADATA { lora_rank: '4' })`);
  c.closeSync();
  instance.closeSync();
}

test('a running reference import is cancelled from the UI', async ({ appPage: page, host }) => {
  test.skip(DEMO.missing !== null, `the generator's demo assets are not usable: ${DEMO.missing}`);
  const tmp = mkdtempSync(join(tmpdir(), 'lora-audit-cancel-'));
  try {
    const shard = join(tmp, 'train-00000-of-00001.parquet');
    await bigShard(shard, 40);
    await expect(page.getByTestId('empty-cases')).toBeVisible({ timeout: 30_000 }); // the host warms up on its first call
    await page.getByRole('button', { name: 'Reference sets' }).click();
    await page.getByLabel('Reference set name').fill('big');
    host.answerDialogs([[shard]]);
    await page.getByRole('button', { name: 'Import LoRA-WiSE shards…' }).click();
    const progress = page.getByTestId('job-progress');
    await expect(progress.getByRole('progressbar')).toBeVisible();
    // The header lists the running job too, so it can be found from any screen.
    await expect(page.getByTestId('jobs-running')).toContainText('Importing references');
    // Leaving the screen and coming back finds the same import still running, not a fresh form.
    await page.getByRole('button', { name: 'Cases' }).click();
    await expect(page.getByTestId('jobs-running')).toContainText('Importing references');
    await page.getByRole('button', { name: 'Reference sets' }).click();
    await expect(progress.getByRole('progressbar')).toBeVisible();
    // With a name typed, only the running import keeps a second one from starting.
    await page.getByLabel('Reference set name').fill('big');
    await expect(page.getByRole('button', { name: 'Import LoRA-WiSE shards…' })).toBeDisabled();
    await shot(page, 'cancel-01-importing');
    await progress.getByRole('button', { name: 'Cancel' }).click();
    const cancelled = page.getByTestId('error').filter({ hasText: 'Import cancelled' });
    await expect(cancelled).toBeVisible({ timeout: 60_000 });
    await expect(cancelled).toHaveAttribute('data-code', 'CANCELLED');
    await expect(page.getByTestId('jobs-running')).toHaveCount(0);
    await expect(page.getByRole('button', { name: 'Import LoRA-WiSE shards…' })).toBeEnabled();
    // Whatever was stored before the cancel is not passed off as a complete set.
    const set = page.getByTestId('reference-sets').getByRole('listitem').filter({ hasText: 'big' });
    if (await set.count()) await expect(set).toContainText('incomplete');
    await shot(page, 'cancel-02-cancelled');
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});
