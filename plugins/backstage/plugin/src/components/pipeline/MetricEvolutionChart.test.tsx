import { screen } from '@testing-library/react';
import { renderInTestApp } from '@backstage/frontend-test-utils';
import { fixture } from '../../__testUtils__/FakeMlmetaApi';
import { renderWithMlmeta } from '../../__testUtils__/render';
import { EvolutionTooltip, MetricEvolutionChart, evolutionRows } from './MetricEvolutionChart';

const REF = 'component:default/churn-training-pipeline';
const evolution = () => fixture('MetricEvolution').data.entity.pipeline.metricEvolution;

describe('MetricEvolutionChart', () => {
  it('makes one row per run, oldest first, with a column per metric', () => {
    const rows = evolutionRows(evolution());
    expect(rows).toHaveLength(8);
    expect(rows.map(r => r.startedAt)).toEqual([...rows.map(r => r.startedAt)].sort());
    const tuned = rows.find(r => r.run === 'tuned-600-rounds')!;
    expect(typeof tuned.roc_auc).toBe('number');
    expect(typeof tuned.pr_auc).toBe('number');
  });

  it('shows which run a hovered point is', async () => {
    const row = evolutionRows(evolution()).find(r => r.run === 'tuned-600-rounds')!;
    renderInTestApp(
      <EvolutionTooltip active payload={[{ name: 'roc_auc', value: row.roc_auc, color: '#1f77b4', payload: row }]} />,
    );
    expect(await screen.findByText('run tuned-600-rounds')).toBeInTheDocument();
    expect(screen.getByText(/roc_auc: 0\.\d+/)).toBeInTheDocument();
  });

  it('offers every metric, showing the 0..1 ones first', async () => {
    await renderWithMlmeta(<MetricEvolutionChart entityRef={REF} metrics={['roc_auc', 'pr_auc', 'loss', 'train:progress']} />, {
      MetricEvolution: fixture('MetricEvolution'),
    });
    expect(await screen.findByRole('button', { name: 'roc_auc' })).toHaveAttribute('aria-pressed', 'true');
    expect(screen.getByRole('button', { name: 'train:progress' })).toHaveAttribute('aria-pressed', 'false');
  });

  it('says when the pipeline reports no metric', async () => {
    await renderWithMlmeta(<MetricEvolutionChart entityRef={REF} metrics={[]} />, {});
    expect(await screen.findByText('No metrics')).toBeInTheDocument();
  });

  it('says when the last runs reported none of the metrics', async () => {
    const answer = fixture('MetricEvolution');
    answer.data.entity.pipeline.metricEvolution = answer.data.entity.pipeline.metricEvolution.map((m: any) => ({ ...m, points: [] }));
    await renderWithMlmeta(<MetricEvolutionChart entityRef={REF} metrics={['roc_auc']} />, { MetricEvolution: answer });
    expect(await screen.findByText('No runs with metrics')).toBeInTheDocument();
  });
});
