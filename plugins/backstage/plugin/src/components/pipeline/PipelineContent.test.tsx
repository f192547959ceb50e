import { act, fireEvent, screen, waitFor, within } from '@testing-library/react';
import { MlmetaRequestError } from '../../api';
import { fixture } from '../../__testUtils__/FakeMlmetaApi';
import { renderWithMlmeta } from '../../__testUtils__/render';
import { MlmetaPipelineView } from './PipelineContent';

jest.mock('uplot', () => require('../../__testUtils__/uplotMock'));
jest.mock('uplot/dist/uPlot.min.css', () => ({}));

const REF = 'component:default/churn-training-pipeline';
const STAGING = 'component:default/churn-training-staging';

const recorded = () => ({
  PipelinePage: fixture('PipelinePage'),
  PipelineRuns: fixture('PipelineRuns'),
  MetricEvolution: fixture('MetricEvolution'),
  LatestExecution: fixture('LatestExecution.staging'),
  RunSeries: fixture('RunSeries'),
  CompareRuns: fixture('CompareRuns'),
});

function stepStatus(name: string) {
  return screen.getByTestId(`node-${name}`).getAttribute('data-status');
}

describe('MlmetaPipelineView', () => {
  it('shows a loading state until the pipeline answers', async () => {
    await renderWithMlmeta(<MlmetaPipelineView entityRef={REF} />, { PipelinePage: 'pending' });
    expect(await screen.findByText('Loading pipeline…')).toBeInTheDocument();
  });

  it('shows an error with a retry when nothing was executed', async () => {
    const { api } = await renderWithMlmeta(<MlmetaPipelineView entityRef={REF} />, {
      PipelinePage: new MlmetaRequestError('mlmeta answered no data: HTTP 502 Bad Gateway', { status: 502 }),
    });
    expect(await screen.findByText(/Could not load pipeline/)).toBeInTheDocument();
    api.set('PipelinePage', fixture('PipelinePage'));
    api.set('PipelineRuns', fixture('PipelineRuns'));
    api.set('MetricEvolution', fixture('MetricEvolution'));
    fireEvent.click(screen.getByRole('button', { name: 'Retry' }));
    expect(await screen.findByText('Latest run: nightly')).toBeInTheDocument();
  });

  it('says when the entity links no pipeline', async () => {
    const answer = fixture('PipelinePage');
    answer.data.entity.pipeline = null;
    await renderWithMlmeta(<MlmetaPipelineView entityRef={REF} />, { PipelinePage: answer });
    expect(await screen.findByText('No pipeline linked')).toBeInTheDocument();
  });

  it('draws the step graph with the latest run, the runs and the metric evolution', async () => {
    const { api } = await renderWithMlmeta(<MlmetaPipelineView entityRef={REF} />, recorded());
    expect(await screen.findByText('Latest run: nightly')).toBeInTheDocument();
    expect(screen.getByRole('img', { name: 'Pipeline step graph' })).toBeInTheDocument();
    expect(stepStatus('ValidateData')).toBe('SUCCEEDED');
    expect(stepStatus('RegisterModel')).toBe('NOT_RUN');

    const runs = await screen.findByRole('table', { name: 'Runs' });
    expect(within(runs).getByTestId('run-missing-snapshot')).toHaveTextContent('ValidateData');
    expect(within(runs).getByTestId('run-missing-snapshot')).toHaveTextContent(/failed/);
    expect(within(runs).getByTestId('run-manual-rerun')).toHaveTextContent('14 min');
    expect(api.callsOf('PipelineRuns')[0]).toMatchObject({ ref: REF, first: 10 });

    // One line per metric across runs: every metric the pipeline reports is offered.
    for (const metric of ['roc_auc', 'pr_auc', 'loss', 'accuracy']) {
      expect(await screen.findByRole('button', { name: metric })).toBeInTheDocument();
    }
    expect(screen.getByText(/8 runs, oldest first/)).toBeInTheDocument();
  });

  it('pages the runs table with cursors', async () => {
    const { api } = await renderWithMlmeta(<MlmetaPipelineView entityRef={REF} />, {
      ...recorded(),
      PipelineRuns: vars => (vars.after ? fixture('PipelineRuns.page2') : fixture('PipelineRuns')),
    });
    const runs = await screen.findByRole('table', { name: 'Runs' });
    expect(within(runs).getByTestId('run-nightly')).toBeInTheDocument();
    fireEvent.click(screen.getByRole('button', { name: 'Next' }));
    expect(await screen.findByTestId('run-baseline-xgb')).toBeInTheDocument();
    const endCursor = fixture('PipelineRuns').data.entity.pipeline.executions.pageInfo.endCursor;
    expect(api.callsOf('PipelineRuns')[1]).toMatchObject({ after: endCursor });
    fireEvent.click(screen.getByRole('button', { name: 'Previous' }));
    expect(await screen.findByTestId('run-nightly')).toBeInTheDocument();
  });

  it('names the failing source when the answer is partial', async () => {
    await renderWithMlmeta(<MlmetaPipelineView entityRef={REF} />, {
      PipelinePage: fixture('PipelinePage.partial'),
      PipelineRuns: fixture('PipelineRuns.partial'),
      MetricEvolution: fixture('MetricEvolution.partial'),
    });
    expect(await screen.findByText('No run yet')).toBeInTheDocument();
    const notices = await screen.findAllByTestId('partial-stepfunctions');
    expect(notices[0]).toHaveTextContent('Partial data: stepfunctions failed (UPSTREAM_UNAVAILABLE)');
    expect(notices[0]).toHaveTextContent('latestExecution');
    // The runs still list (from the edges) though the RunTable and the steps failed.
    expect(await screen.findAllByTestId('partial-metadb')).toHaveLength(2); // the RunTable, the evolution
    expect(screen.getByTestId('run-nightly')).toBeInTheDocument();
    expect(screen.getByText(/5 items/)).toBeInTheDocument();
    expect(screen.getByText(/metricEvolution/)).toBeInTheDocument();
  });

  it('says the pipeline is unavailable, and why, when Step Functions is down (recorded)', async () => {
    await renderWithMlmeta(<MlmetaPipelineView entityRef={REF} />, { PipelinePage: fixture('PipelinePage.aws-down') });
    expect(await screen.findByTestId('partial-stepfunctions')).toHaveTextContent(
      'Partial data: stepfunctions failed (UPSTREAM_UNAVAILABLE): stepfunctions cannot be reached — missing: pipeline',
    );
    expect(screen.queryByText('No pipeline linked')).not.toBeInTheDocument();
  });

  it('updates the step graph live over the subscription', async () => {
    const staging = fixture('PipelinePage.staging');
    const { api } = await renderWithMlmeta(<MlmetaPipelineView entityRef={STAGING} />, {
      ...recorded(),
      PipelinePage: staging,
    });
    expect(await screen.findByTestId('live-mode')).toHaveTextContent('live (websocket)');
    const sub = api.live()!;
    expect(sub.operation).toBe('ExecutionUpdated');
    expect(sub.variables).toEqual({ pipelineId: staging.data.entity.pipeline.id });

    const run = staging.data.entity.pipeline.latestExecution;
    const running = run.steps.find((s: any) => s.status === 'RUNNING');
    expect(stepStatus(running.name)).toBe('RUNNING');
    const update = {
      ...run,
      steps: run.steps.map((s: any) => (s.name === running.name ? { ...s, status: 'SUCCEEDED' } : s)),
    };
    act(() => sub.observer.next({ data: { executionUpdated: update }, errors: [], stale: [] }));
    expect(stepStatus(running.name)).toBe('SUCCEEDED');
  });

  it('falls back to polling when the websocket fails', async () => {
    jest.useFakeTimers();
    try {
      const staging = fixture('PipelinePage.staging');
      const { api } = await renderWithMlmeta(<MlmetaPipelineView entityRef={STAGING} pollIntervalMs={1000} />, {
        ...recorded(),
        PipelinePage: staging,
      });
      await act(async () => {
        await jest.advanceTimersByTimeAsync(10);
      });
      expect(screen.getByTestId('live-mode')).toHaveTextContent('live (websocket)');
      act(() => api.live()!.observer.error(new Error('websocket closed (1006)')));
      expect(screen.getByTestId('live-mode')).toHaveTextContent('live (polling)');
      const polled = fixture('LatestExecution.staging');
      const step = polled.data.entity.pipeline.latestExecution.steps[0];
      step.status = 'FAILED';
      api.set('LatestExecution', polled);
      await act(async () => {
        await jest.advanceTimersByTimeAsync(1100);
      });
      expect(api.callsOf('LatestExecution')).toEqual([{ ref: STAGING }]);
      expect(stepStatus(step.name)).toBe('FAILED');
    } finally {
      jest.useRealTimers();
    }
  });

  it('opens a run with its series, and compares selected runs', async () => {
    const { api } = await renderWithMlmeta(<MlmetaPipelineView entityRef={REF} />, recorded());
    const runs = await screen.findByRole('table', { name: 'Runs' });
    fireEvent.click(within(runs).getByRole('button', { name: 'more-data' }));
    expect(await screen.findByText('Run more-data')).toBeInTheDocument();
    expect(api.callsOf('RunSeries')[0]).toMatchObject({ maxPoints: 400 });

    fireEvent.click(within(runs).getByRole('checkbox', { name: 'select nightly' }));
    expect(await screen.findByText('Select runs to compare')).toBeInTheDocument();
    fireEvent.click(within(runs).getByRole('checkbox', { name: 'select manual-rerun' }));
    fireEvent.click(within(runs).getByRole('checkbox', { name: 'select more-data' }));
    expect(await screen.findByRole('table', { name: 'Run comparison' })).toBeInTheDocument();
    await waitFor(() => expect(api.callsOf('CompareRuns').pop()?.ids).toHaveLength(3));
    expect(screen.getByText('Compare runs (3)')).toBeInTheDocument();
  });
});
