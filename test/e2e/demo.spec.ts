// "Open the demo investigation" from the cases screen: a finished case with estimates for the
// applicable adapters, for the not-applicable ones the reasons and no number, and a signed report.
import { test, expect } from './host.ts';
import { DEMO } from './demo-files.ts';
import { expectAccessible, shot } from './ui.ts';

test('the demo investigation opens as a finished case', async ({ appPage: page }) => {
  test.skip(DEMO.missing !== null, `the generator's demo assets are not usable: ${DEMO.missing}`);
  await expect(page.getByTestId('empty-cases')).toBeVisible({ timeout: 30_000 }); // the host warms up on its first call
  await page.getByRole('button', { name: 'Open the demo investigation' }).click();
  // Either the case opens or the app says why not: fail at once with its message, not at a timeout.
  const opened = page.getByTestId('case-title');
  const failed = page.getByTestId('error');
  await expect(opened.or(failed).first()).toBeVisible({ timeout: 170_000 });
  if (await failed.count()) expect(await failed.first().innerText(), 'the demo reported an error').toBe('');
  await expect(opened).toContainText('Demo investigation');
  const cards = page.getByTestId('result-card');
  await expect(cards.first()).toBeVisible();
  // Every applicable adapter has a number; the not-applicable one has reasons instead.
  await expect(cards.getByTestId('estimate').first()).toHaveText(/^\d+$/);
  const refused = cards.filter({ has: page.getByTestId('refused') });
  await expect(refused.first()).toBeAttached();
  expect(await refused.count()).toBeGreaterThanOrEqual(DEMO.notApplicable);
  await expect(refused.getByTestId('estimate')).toHaveCount(0);
  // Closed result cards are hidden from the accessibility tree, so their reasons are found as plain li.
  for (const card of await refused.all()) await expect(card.locator('[data-testid="refused"] li').first()).not.toBeEmpty();
  // The investigation ends in a signed report, recorded in the case.
  await expect(page.getByRole('heading', { name: 'Reports (1)' })).toBeVisible();
  await expectAccessible(page, 'demo case');
  await shot(page, 'demo-case');
});
