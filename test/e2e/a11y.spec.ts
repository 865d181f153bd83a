// Accessibility beyond the walkthrough's scans: every screen in light and dark themes, the keyboard
// alone can create a case, focus is always visible, and text scaled to 200% still fits.
import { test, expect } from './host.ts';
import { expectAccessible, shot } from './ui.ts';

for (const scheme of ['light', 'dark'] as const) {
  test(`every screen passes axe in the ${scheme} theme`, async ({ appPage: page }) => {
    await page.emulateMedia({ colorScheme: scheme });
    await expect(page.getByTestId('empty-cases')).toBeVisible({ timeout: 30_000 }); // the host warms up on its first call
    await expectAccessible(page, `cases (${scheme})`);
    await page.getByLabel('Case title').fill('Theme check');
    await page.getByLabel('Examiner').fill('Cy Checker');
    await page.getByRole('button', { name: 'Create case' }).click();
    await expect(page.getByTestId('case-title')).toBeVisible();
    await expectAccessible(page, `case (${scheme})`);
    for (const [button, heading] of [['Add evidence', 'Add evidence'], ['Report', 'Report']] as const) {
      await page.getByRole('button', { name: button, exact: true }).click();
      await expect(page.getByRole('heading', { name: heading, exact: true })).toBeVisible();
      await expectAccessible(page, `${heading} (${scheme})`);
      await page.getByRole('button', { name: /Back to Theme check/ }).click();
    }
    for (const [tab, heading] of [['Reference sets', 'Reference sets'], ['Verify a report', 'Verify a report']] as const) {
      await page.getByRole('navigation', { name: 'Main' }).getByRole('button', { name: tab }).click();
      await expect(page.getByRole('heading', { name: heading, exact: true })).toBeVisible();
      await expectAccessible(page, `${heading} (${scheme})`);
    }
    await shot(page, `a11y-verify-${scheme}`);
  });
}

test('the keyboard alone creates a case, with focus always visible', async ({ appPage: page }) => {
  await expect(page.getByTestId('empty-cases')).toBeVisible({ timeout: 30_000 }); // the host warms up on its first call
  // The first Tab reaches the skip link, which is shown when focused.
  await page.keyboard.press('Tab');
  const skip = page.getByRole('link', { name: 'Skip to the content' });
  await expect(skip).toBeFocused();
  await expect(skip).toBeInViewport();
  // Walk forward to the case title field; every stop shows a focus outline.
  for (let i = 0; i < 20; i++) {
    await page.keyboard.press('Tab');
    const outline = await page.evaluate(() => {
      const el = document.activeElement as HTMLElement;
      const s = getComputedStyle(el);
      return { label: el.getAttribute('name') ?? el.textContent?.trim() ?? el.tagName, style: s.outlineStyle, width: parseFloat(s.outlineWidth) };
    });
    expect(outline.style, `focus outline on ${outline.label}`).not.toBe('none');
    expect(outline.width).toBeGreaterThan(0);
    if (outline.label === 'title') break;
  }
  await expect(page.getByLabel('Case title')).toBeFocused();
  await page.keyboard.type('Keyboard case');
  await page.keyboard.press('Tab');
  await page.keyboard.type('Kim Keys');
  await page.keyboard.press('Enter');
  // The new case opens with focus on its heading.
  await expect(page.getByTestId('case-title')).toHaveText('Keyboard case');
  await expect(page.getByTestId('case-title')).toBeFocused();
});

test('text scaled to 200% still fits the window', async ({ appPage: page }) => {
  await expect(page.getByTestId('empty-cases')).toBeVisible({ timeout: 30_000 }); // the host warms up on its first call
  const before = await page.getByRole('heading', { name: 'Cases' }).evaluate((el) => el.getBoundingClientRect().height);
  await page.evaluate(() => { document.documentElement.style.fontSize = '200%'; });
  const after = await page.getByRole('heading', { name: 'Cases' }).evaluate((el) => el.getBoundingClientRect().height);
  expect(after).toBeGreaterThan(before * 1.6);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  expect(overflow).toBeLessThanOrEqual(1);
  await shot(page, 'a11y-text-200');
});
