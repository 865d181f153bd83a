// "Compare anyway" (issue 18): in the demo investigation the kohya adapter is refused against the
// diffusers reference set for its training tool, a judgement call. The examiner compares anyway with a
// justification (required), sees the estimate with the justification beside it, and the report says
// "Compared despite".
import { test, expect } from './host.ts';
import { DEMO } from './demo-files.ts';
import { analyseOnly, expectAccessible, shot } from './ui.ts';

const KOHYA = 'copper_stripes-3img.safetensors';
const WHY = 'The uploader\'s notes give the reference recipe (rank 4, alpha 4, 100 steps); <i>converted</i> & re-saved by kohya.';

test('an examiner compares a soft-refused adapter anyway, with a justification on the record', async ({ appPage: page }) => {
  test.skip(DEMO.missing !== null, `the generator's demo assets are not usable: ${DEMO.missing}`);
  test.setTimeout(420_000);
  await expect(page.getByTestId('empty-cases')).toBeVisible({ timeout: 30_000 }); // the host warms up on its first call
  await page.getByRole('button', { name: 'Open the demo investigation' }).click();
  await expect(page.getByTestId('case-title')).toContainText('Demo investigation', { timeout: 170_000 });

  await page.getByRole('button', { name: 'Analyse' }).click();
  const row = page.locator('div.ev', { hasText: KOHYA });
  await expect(row.getByTestId('applicability')).toContainText('not applicable', { timeout: 60_000 });
  await expect(row.getByTestId('applicability')).toContainText("kohya's sd-scripts (evidence: its ss_* training metadata");
  // analyse the kohya file alone
  await analyseOnly(page, new RegExp(KOHYA.replace(/\./g, '\\.')));
  await page.getByRole('button', { name: 'Run the analysis' }).click();

  const card = page.getByTestId('result-card').filter({ hasText: KOHYA });
  await expect(card.getByTestId('refused')).toBeVisible({ timeout: 120_000 });
  await expect(card.getByTestId('reason-kind')).toHaveText(['judgement call']);
  await card.getByRole('button', { name: 'Compare anyway…' }).click();
  // no justification, no comparison
  await card.getByRole('button', { name: 'Compare anyway', exact: true }).click();
  await expect(card.getByText('Say why the comparison is meaningful.')).toBeVisible();
  await expect(card.getByTestId('estimate')).toHaveCount(0);
  await card.getByLabel('Justification (required)').fill(WHY);
  await expectAccessible(page, 'analysis (compare anyway)');
  await card.getByRole('button', { name: 'Compare anyway', exact: true }).click();

  const compared = page.getByTestId('result-card').filter({ hasText: KOHYA });
  await expect(compared.getByTestId('estimate')).toHaveText(/^[1-6]$/, { timeout: 120_000 });
  await expect(compared.getByTestId('override-justification')).toHaveText(WHY);
  await expect(compared.getByTestId('override')).toContainText("Compared despite: This adapter was produced by kohya's sd-scripts");
  await expect(compared.getByTestId('refused')).toHaveCount(0);
  await expectAccessible(page, 'analysis (compared anyway)');
  await shot(page, 'override-result');

  // the report prints the justification beside the estimate
  await page.getByRole('button', { name: 'Write the report' }).click();
  const report = page.frameLocator('[data-testid="report-preview"]').locator('body');
  await expect(report).toContainText('Compared despite: This adapter was produced by kohya', { timeout: 60_000 });
  await expect(report).toContainText(WHY);
  await shot(page, 'override-report');
});
