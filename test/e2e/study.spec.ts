// "Build a matching reference set" (issue 19): in the demo investigation the kohya evidence is refused
// against the demo reference; its result card offers a reference study, whose planner shows the recipe
// read off the file (each field's source, assumptions marked and editable), writes the plan and shows
// its runs; training starts as a job with progress and stops on cancel, keeping the bundle's state. A
// second test runs the whole loop in the app on a pilot study (2 steps a run, an examiner's edit):
// plan, train, import, and an applicable estimate whose recipe-match table shows the edit.
import { test, expect } from './host.ts';
import { DEMO } from './demo-files.ts';
import { analyseOnly, expectAccessible, shot } from './ui.ts';

async function openPlanner(page: import('@playwright/test').Page) {
  await expect(page.getByTestId('empty-cases')).toBeVisible({ timeout: 30_000 });
  await page.getByRole('button', { name: 'Open the demo investigation' }).click();
  await expect(page.getByTestId('case-title')).toContainText('Demo investigation', { timeout: 170_000 });
  await page.getByRole('button', { name: 'Analyse' }).click();
  await expect(page.getByTestId('reference-select')).toHaveValue('mini LoRA-WiSE (demo)');
  await analyseOnly(page, /copper_stripes-3img\.safetensors/);
  await page.getByRole('button', { name: 'Run the analysis' }).click();
  const card = page.getByTestId('result-card');
  await expect(card.getByTestId('refused')).toBeVisible({ timeout: 120_000 });
  await card.getByTestId('build-study').click();
  const planner = page.getByTestId('study-planner');
  await expect(planner.getByTestId('study-recipe')).toBeVisible({ timeout: 60_000 });
  return planner;
}

test('the whole loop in the app: a pilot study planned, trained, imported, and an applicable estimate', async ({ appPage: page }) => {
  test.skip(DEMO.missing !== null, `the generator's demo assets are not usable: ${DEMO.missing}`);
  test.setTimeout(400_000);
  const planner = await openPlanner(page);
  const steps = planner.locator('[data-testid="study-field"][data-field="maxTrainSteps"]');
  await steps.getByTestId('study-edit').fill('2');
  await expect(steps).toContainText('examiner: edited in the planner');
  await planner.getByTestId('study-sizes').fill('1,2');
  await planner.getByTestId('study-plan').click();
  const status = planner.getByTestId('study-status');
  await expect(status.getByTestId('study-coverage')).toHaveText('0 of 8 runs done', { timeout: 60_000 });
  await status.getByTestId('study-train').click();
  await expect(status.getByTestId('study-coverage')).toHaveText('8 of 8 runs done', { timeout: 300_000 });
  await expect(status.locator('[data-testid="study-run"][data-state="trained"]')).toHaveCount(8);
  await status.getByTestId('study-name').fill('copper pilot study');
  await status.getByTestId('study-import').click();
  await expect(planner.getByTestId('study-imported')).toContainText('Imported 8 runs as copper pilot study', { timeout: 120_000 });
  // the new set is chosen; the kohya file now applies
  await expect(page.getByTestId('reference-select')).toHaveValue('copper pilot study');
  await expect(page.getByTestId('applicability').filter({ hasText: 'the references apply' })).toHaveCount(1, { timeout: 60_000 });
  await page.getByRole('button', { name: 'Run the analysis' }).click();
  const card = page.getByTestId('result-card').filter({ has: page.getByTestId('estimate') });
  await expect(card.getByTestId('estimate')).toHaveText(/^[12]$/, { timeout: 180_000 });
  const match = card.getByTestId('recipe-match');
  await expect(match).toContainText('Recipe match: this file against study study-');
  await expect(match.getByTestId('recipe-differs')).toHaveText('1');
  await expect(match.locator('tr.differs')).toContainText('maxTrainSteps');
  await expect(match.getByTestId('recipe-assumed').first()).toBeVisible();
  await shot(page, 'study-estimate');
});

test('a refused kohya file gets a study planned, its status shown and its training cancellable', async ({ appPage: page }) => {
  test.skip(DEMO.missing !== null, `the generator's demo assets are not usable: ${DEMO.missing}`);
  test.setTimeout(300_000);
  const planner = await openPlanner(page);
  const field = (name: string) => planner.locator(`[data-testid="study-field"][data-field="${name}"]`);
  await expect(field('rank')).toContainText('metadata: ss_network_dim');
  await expect(field('learningRate').getByTestId('study-edit')).toHaveValue('0.003');
  await expect(field('rank').getByTestId('study-edit')).toHaveValue('4');
  await expect(field('maxTrainSteps')).toContainText('metadata: ss_max_train_steps');
  await expect(field('optimizer').getByTestId('study-assumed')).toContainText('assumed');
  await expect(field('rank').getByTestId('study-assumed')).toHaveCount(0);
  await planner.getByTestId('study-sizes').fill('1,2');
  await expectAccessible(page, 'study planner');
  await shot(page, 'study-planner');

  await planner.getByTestId('study-plan').click();
  const status = planner.getByTestId('study-status');
  await expect(status.getByTestId('study-coverage')).toHaveText('0 of 8 runs done', { timeout: 60_000 });
  await expect(status.getByTestId('study-run')).toHaveCount(8);
  await expect(status.locator('[data-testid="study-run"][data-state="missing"]')).toHaveCount(8);
  await expect(status).toContainText('assumed: optimizer');

  // Training runs as a job: progress per step, then cancel leaves every run as it was.
  await status.getByTestId('study-train').click();
  await expect(planner.getByText(/training .*: step \d+ of 100/)).toBeVisible({ timeout: 120_000 });
  await planner.getByRole('button', { name: 'Cancel' }).first().click();
  await expect(planner.getByText('Training stopped (finished runs are kept)')).toBeVisible({ timeout: 60_000 });
  await expect(status.locator('[data-testid="study-run"][data-state="missing"]')).toHaveCount(8);
  await shot(page, 'study-status');
});
