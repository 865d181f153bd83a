import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { test, expect, repoRoot } from './host.ts';

test('the app opens on its home screen: the case list, empty', async ({ appPage, host }) => {
  await expect(appPage.getByRole('heading', { name: 'Cases' })).toBeVisible();
  await expect(appPage.getByTestId('empty-cases')).toContainText('No cases yet');
  // The compute backend in use is shown to the user.
  await expect(appPage.getByTestId('backend')).not.toBeEmpty();
  mkdirSync(join(repoRoot, 'test-results'), { recursive: true });
  await appPage.screenshot({ path: join(repoRoot, 'test-results', 'home.png'), fullPage: true });
  expect(host.requests.length).toBeGreaterThan(0);
});
