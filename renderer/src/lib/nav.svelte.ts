// Where the user is: one screen at a time, plus the open case. Kept in memory rather than in the URL
// because the page URL's fragment carries the headless host's token.
import { tick } from 'svelte';
import type { AppInfo } from '../../../main/api/contract.ts';

export type Screen = 'cases' | 'case' | 'evidence' | 'references' | 'analysis' | 'report' | 'verify';

export const nav: { screen: Screen; caseId: string | null } = $state({ screen: 'cases', caseId: null });

/** What app.info said: the backend in use is shown wherever results are. */
export const app: { info: AppInfo | null } = $state({ info: null });

export async function go(screen: Screen, caseId?: string | null): Promise<void> {
  if (caseId !== undefined) nav.caseId = caseId;
  nav.screen = screen;
  // Move keyboard focus to the new screen's heading, so keyboard and screen reader users land on it.
  await tick();
  const heading = document.querySelector<HTMLElement>('main h2[tabindex="-1"]');
  heading?.focus();
  window.scrollTo(0, 0);
}
