// The estimate row counts whole module votes, and a weighted variant's fractional vote weights are
// printed as weights (one decimal), never as "383.9999999999999 module votes".
import { describe, expect, it } from 'vitest';
import { renderReportHtml } from '../../../main/reports/template.ts';
import { makeModel } from './fixture.ts';

describe('the estimate row says how many votes there were', () => {
  it('counts whole votes as module votes', () => {
    const html = renderReportHtml(makeModel('estimated'));
    expect(html).toContain('(the size most modules vote for; 72 module votes, one per module and feature)');
    expect(html).toContain('<figcaption>Votes per reference dataset size (one vote per module and feature).</figcaption>');
  });

  it('prints weighted votes as a rounded total weight', () => {
    const model = makeModel('estimated');
    model.results[0].result!.votes = [{ size: 1, count: 0.1 }, { size: 2, count: 0.2 }, { size: 3, count: 383.6999999999999 }];
    const html = renderReportHtml(model);
    expect(html).toContain('(the size most modules vote for; votes weighted by the variant, 384.0 in all)');
    expect(html).not.toMatch(/383\.99|module votes/);
  });
});
