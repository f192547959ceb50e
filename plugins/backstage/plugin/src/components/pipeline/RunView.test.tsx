import { act, fireEvent, screen, waitFor } from '@testing-library/react';
import { MlmetaRequestError } from '../../api';
import { fixture } from '../../__testUtils__/FakeMlmetaApi';
import { renderWithMlmeta } from '../../__testUtils__/render';
import { charts, dragSelect } from '../../__testUtils__/uplotMock';
import { RunComparison } from './RunComparison';
import { RunView } from './RunView';

jest.mock('uplot', () => require('../../__testUtils__/uplotMock'));
jest.mock('uplot/dist/uPlot.min.css', () => ({}));

const RUN = fixture('RunSeries').data.execution.id;

describe('RunView', () => {
  beforeEach(() => charts.splice(0));

  it('feeds the columnar series to the chart as is', async () => {
    await renderWithMlmeta(<RunView executionId={RUN} />, { RunSeries: fixture('RunSeries') });
    expect(await screen.findByText('Run more-data')).toBeInTheDocument();
    const loss = fixture('RunSeries').data.execution.metricSeries.find((s: any) => s.name === 'loss');
    expect(screen.getByTestId('series-loss')).toHaveTextContent(`${loss.columns.steps.length} of 100000 points (downsampled`);
    const chart = charts.find(c => c.opts.title === 'loss' && !c.destroyed)!;
    expect(chart.data).toEqual([loss.columns.steps, loss.columns.values]);
  });

  it('asks again for the step range when zooming', async () => {
    const { api } = await renderWithMlmeta(<RunView executionId={RUN} />, {
      RunSeries: vars => (vars.minStep !== undefined ? fixture('RunSeries.zoomed') : fixture('RunSeries')),
    });
    await screen.findByText('Run more-data');
    const chart = charts.find(c => c.opts.title === 'loss' && !c.destroyed)!;
    act(() => dragSelect(chart, 100, 300));
    await waitFor(() => expect(api.callsOf('RunSeries').pop()).toMatchObject({ minStep: 100, maxStep: 300 }));
    const zoomed = fixture('RunSeries.zoomed').data.execution.metricSeries.find((s: any) => s.name === 'loss');
    await waitFor(() =>
      expect(charts.find(c => c.opts.title === 'loss' && !c.destroyed)!.data[0]).toEqual(zoomed.columns.steps),
    );
    fireEvent.click(screen.getByRole('button', { name: 'Reset zoom' }));
    await waitFor(() => expect(api.callsOf('RunSeries').pop()).toMatchObject({ minStep: undefined, maxStep: undefined }));
    fireEvent.change(screen.getByLabelText('From step'), { target: { value: '10' } });
    fireEvent.change(screen.getByLabelText('To step'), { target: { value: '20' } });
    fireEvent.click(screen.getByRole('button', { name: 'Zoom' }));
    await waitFor(() => expect(api.callsOf('RunSeries').pop()).toMatchObject({ minStep: 10, maxStep: 20 }));
  });

  it('shows loading, error and empty states', async () => {
    const pending = await renderWithMlmeta(<RunView executionId={RUN} />, { RunSeries: 'pending' });
    expect(await screen.findByText('Loading run series…')).toBeInTheDocument();
    pending.unmount();
    const failed = await renderWithMlmeta(<RunView executionId={RUN} />, { RunSeries: new MlmetaRequestError('down') });
    expect(await screen.findByText(/Could not load run series/)).toBeInTheDocument();
    failed.unmount();
    const empty = fixture('RunSeries');
    empty.data.execution.metricSeries = [];
    await renderWithMlmeta(<RunView executionId={RUN} />, { RunSeries: empty });
    expect(await screen.findByText('No series')).toBeInTheDocument();
  });

  it('names the source when the series failed', async () => {
    const partial = fixture('RunSeries');
    partial.data.execution.metricSeries = null;
    partial.errors = [{ message: 'cloudwatch failed', path: ['execution', 'metricSeries'], extensions: { code: 'UPSTREAM_TIMEOUT', source: 'cloudwatch' } }];
    await renderWithMlmeta(<RunView executionId={RUN} />, { RunSeries: partial });
    expect(await screen.findByTestId('partial-cloudwatch')).toHaveTextContent('cloudwatch failed (UPSTREAM_TIMEOUT)');
  });
});

describe('RunComparison', () => {
  const ids = fixture('CompareRuns').data.compareRuns.map((r: any) => r.id);

  it('asks for 2 to 10 runs', async () => {
    await renderWithMlmeta(<RunComparison executionIds={ids.slice(0, 1)} metricNames={['loss']} />, {});
    expect(await screen.findByText('Select runs to compare')).toBeInTheDocument();
  });

  it('aligns parameters and metrics of the runs and marks differences', async () => {
    await renderWithMlmeta(<RunComparison executionIds={ids} metricNames={['loss', 'roc_auc']} />, {
      CompareRuns: fixture('CompareRuns'),
    });
    const table = await screen.findByRole('table', { name: 'Run comparison' });
    expect(table.querySelectorAll('thead th')).toHaveLength(ids.length + 1);
    expect(table.querySelectorAll('tr[data-differs="true"]').length).toBeGreaterThan(0);
    const overlay = charts.find(c => c.opts.title === 'loss' && !c.destroyed);
    expect(overlay?.opts.series.length).toBeGreaterThan(1);
  });
});
