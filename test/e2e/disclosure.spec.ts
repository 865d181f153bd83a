// The evidence card's Disclosure panel: a real LyCORIS file shows its caption tags per dataset folder
// as bars (the character tag in all 43 images), its base model named by hash, its maker's comment
// and training times; a file whose tag names and comment are HTML and script shows them as text,
// with the whole long value one click away. Screenshots: test-results/ui/disclosure-evidence.png (the
// screen) and disclosure-panel.png (the real file's panel).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, expect } from './host.ts';
import { dropFiles, expectAccessible, fileFrom, realAdapters, root, shot } from './ui.ts';
import { kohyaKey } from '../../main/intake/naming.ts';
import { encodeSafetensors } from '../../main/intake/safetensors-writer.ts';

const LOKR = join(realAdapters, 'lycoris-lokr-sd15-dim4-smartfalcon', 'smart_falcon_4_lokr.safetensors');

function hostileAdapter(): Buffer {
  const id = 'unet.down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k';
  return encodeSafetensors([
    { key: kohyaKey(id, 'A'), dtype: 'F32', shape: [2, 768], data: new Float32Array(1536).fill(0.01) },
    { key: kohyaKey(id, 'B'), dtype: 'F32', shape: [320, 2], data: new Float32Array(640).fill(0.01) },
  ], {
    ss_network_module: 'networks.lora',
    ss_tag_frequency: JSON.stringify({ '3_<i>x</i>': { '<img src=x onerror="window.__pwned=1">': 3, '<script>window.__pwned=2</script>': 2 } }),
    ss_dataset_dirs: JSON.stringify({ '3_<i>x</i>': { n_repeats: 3, img_count: 3 } }),
    ss_training_comment: `<b onmouseover="window.__pwned=3">hover</b> \u001b[31m${'long comment '.repeat(40)}`,
  });
}

test('the evidence card says what each file discloses, as text', async ({ appPage: page }) => {
  const tmp = mkdtempSync(join(tmpdir(), 'lora-audit-disclosure-'));
  try {
    await expect(page.getByTestId('empty-cases')).toBeVisible({ timeout: 30_000 }); // the host warms up on its first call
    await page.getByLabel('Case title').fill('What files give away');
    await page.getByLabel('Examiner').fill('Ada Auditor');
    await page.getByRole('button', { name: 'Create case' }).click();
    await page.getByRole('button', { name: 'Add evidence' }).click();
    const hostile = join(tmp, 'hostile_tags.safetensors');
    writeFileSync(hostile, hostileAdapter());
    await dropFiles(page.getByTestId('drop-zone'), [fileFrom(LOKR), fileFrom(hostile)]);
    const cards = page.getByTestId('added-files').getByTestId('inspect-card');
    await expect(cards).toHaveCount(2, { timeout: 60_000 });

    const lokr = cards.filter({ hasText: 'smart_falcon_4_lokr.safetensors' });
    await expect(lokr.getByTestId('base-model-identity')).toHaveText('base model: animefull-final-pruned.safetensors (hash matches: SHA-256 and legacy hash)');
    const charts = lokr.getByTestId('tag-chart');
    await expect(charts).toHaveCount(3);
    const first = charts.filter({ hasText: '16_smf girl' });
    await expect(first.getByRole('listitem').first()).toContainText('smart falcon \\(umamusume\\)');
    await expect(first.getByRole('listitem').first()).toContainText('43 of 43');
    const table = lokr.getByTestId('disclosure').getByRole('table');
    await expect(table.locator('tr[data-category="time"]').first()).toContainText('2023-04-05T17:41:40Z');
    await expect(table.locator('tr[data-category="maker"]').first()).toContainText('trigger word is smart falcon \\(umamusume\\)');

    const bad = cards.filter({ hasText: 'hostile_tags.safetensors' });
    await expect(bad.getByTestId('tag-chart')).toContainText('<img src=x onerror="window.__pwned=1">');
    await expect(bad.getByTestId('tag-chart')).toContainText('3_<i>x</i> (3 images)');
    await expect(bad.getByTestId('disclosure').locator('img, script, b, i')).toHaveCount(0);
    const comment = bad.locator('tr[data-category="maker"]').first();
    await expect(comment.locator('.full')).toBeHidden();
    await comment.locator('summary').click(); // the whole value, one click away
    await expect(comment.locator('.full')).toBeVisible();
    await expect(comment.locator('.full')).toContainText('\\u{1B}[31m');
    await comment.locator('.full').hover();
    expect(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined();

    await expectAccessible(page, 'add evidence with disclosure');
    await shot(page, 'disclosure-evidence');
    // the panel alone, at a size a person can read
    await lokr.getByTestId('disclosure').screenshot({ path: join(root, 'test-results', 'ui', 'disclosure-panel.png') });
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});
