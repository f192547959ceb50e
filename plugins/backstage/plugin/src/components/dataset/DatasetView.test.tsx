import { screen, within } from '@testing-library/react';
import { MlmetaRequestError } from '../../api';
import { fixture } from '../../__testUtils__/FakeMlmetaApi';
import { renderWithMlmeta } from '../../__testUtils__/render';
import { DatasetView } from './DatasetView';

const SET = 'resource:default/churn-training-set';
const EVENTS = 'resource:default/customer-usage-events';

describe('DatasetView', () => {
  it('shows a loading state', async () => {
    await renderWithMlmeta(<DatasetView entityRef={SET} />, { DatasetSources: 'pending' });
    expect(await screen.findByText('Loading downstream impact…')).toBeInTheDocument();
  });

  it('shows an error state', async () => {
    await renderWithMlmeta(<DatasetView entityRef={SET} />, { DatasetSources: new MlmetaRequestError('HTTP 401') });
    expect(await screen.findByText(/Could not load downstream impact/)).toBeInTheDocument();
  });

  it('lists the deployments downstream of the datasets under the entity', async () => {
    const { api } = await renderWithMlmeta(<DatasetView entityRef={SET} />, {
      DatasetSources: fixture('DatasetSources'),
      DatasetImpact: vars =>
        String(vars.datasetId) === fixture('DatasetImpact').data.impact[0].pathIds[0]
          ? fixture('DatasetImpact')
          : { data: { impact: [] } },
    });
    const table = await screen.findByRole('table', { name: 'Downstream deployments' });
    const row = within(table).getByTestId('impact-row');
    expect(row).toHaveTextContent('s3://mlmeta-demo-datasets/churn/training/2026-11-01/train.csv');
    expect(row).toHaveTextContent('churn-model-prod');
    expect(row).toHaveTextContent('production');
    expect(row).toHaveTextContent('run tuned-600-rounds');
    expect(screen.getByText(/2 datasets recorded · 1 downstream deployment$/)).toBeInTheDocument();
    expect(api.callsOf('DatasetLineage')).toEqual([]);
  });

  it('finds datasets upstream of what the pipelines read (raw events)', async () => {
    const { api } = await renderWithMlmeta(<DatasetView entityRef={EVENTS} />, {
      DatasetSources: fixture('DatasetSources.events'),
      DatasetLineage: fixture('DatasetLineage'),
      DatasetImpact: fixture('DatasetImpact'),
    });
    expect(await screen.findByText(/s3:\/\/mlmeta-demo-datasets\/events\/usage\/2026-10\//)).toBeInTheDocument();
    expect(api.callsOf('DatasetImpact')).toEqual([
      { datasetId: 'RGF0YXNldDpzMzovL21sbWV0YS1kZW1vLWRhdGFzZXRzL2V2ZW50cy91c2FnZS8yMDI2LTEwLw' },
    ]);
  });

  it('says when nothing is downstream', async () => {
    await renderWithMlmeta(<DatasetView entityRef={SET} />, {
      DatasetSources: fixture('DatasetSources'),
      DatasetImpact: { data: { impact: [] } },
    });
    expect(await screen.findByText('Nothing downstream')).toBeInTheDocument();
  });

  it('says when the entity has no dataset location', async () => {
    const answer = fixture('DatasetSources');
    answer.data.entity.annotation = null;
    await renderWithMlmeta(<DatasetView entityRef={SET} />, { DatasetSources: answer });
    expect(await screen.findByText('No dataset location')).toBeInTheDocument();
  });

  it('names the failing source of a partial answer', async () => {
    await renderWithMlmeta(<DatasetView entityRef={SET} />, {
      DatasetSources: fixture('DatasetSources'),
      DatasetImpact: fixture('DatasetImpact.partial'),
    });
    expect((await screen.findAllByTestId('partial-sagemaker'))[0]).toHaveTextContent('Partial data: sagemaker failed');
    expect(screen.getAllByText('churn-model-prod (details unavailable)').length).toBeGreaterThan(0);
  });

  it('keeps the paths when SageMaker is down (recorded with AWS unreachable)', async () => {
    await renderWithMlmeta(<DatasetView entityRef={SET} />, {
      DatasetSources: fixture('DatasetSources'),
      DatasetImpact: vars =>
        String(vars.datasetId).startsWith('RGF0YXNldDpzMzovL21sbWV0YS1kZW1vLWRhdGFzZXRzL2NodXJuL3RyYWluaW5nLzIwMjYtMTEtMDEv')
          ? fixture('DatasetImpact.aws-down')
          : { data: { impact: [] } },
    });
    const notice = (await screen.findAllByTestId('partial-sagemaker'))[0];
    expect(notice).toHaveTextContent('Partial data: sagemaker failed (UPSTREAM_UNAVAILABLE): sagemaker cannot be reached');
    const row = screen.getByTestId('impact-row');
    expect(row).toHaveTextContent('churn-model-prod (details unavailable)');
    expect(row).toHaveTextContent('run tuned-600-rounds');
    expect(within(row).getAllByText('unavailable')).toHaveLength(2);
  });
});
