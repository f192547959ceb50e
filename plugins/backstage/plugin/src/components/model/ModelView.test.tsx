import { fireEvent, screen, waitFor, within } from '@testing-library/react';
import { MlmetaRequestError } from '../../api';
import { fixture } from '../../__testUtils__/FakeMlmetaApi';
import { renderWithMlmeta } from '../../__testUtils__/render';
import { lineageKey, makeBundle } from './bundle';
import { ModelView } from './ModelView';

const REF = 'resource:default/churn-model';
const recorded = () => ({
  ModelPage: fixture('ModelPage'),
  ModelCard: fixture('ModelCard'),
  Lineage: (vars: Record<string, unknown>) =>
    String(vars.asOf).startsWith('2026-10-01') ? fixture('Lineage.before') : fixture('Lineage'),
});

describe('ModelView', () => {
  it('shows a loading state', async () => {
    await renderWithMlmeta(<ModelView entityRef={REF} />, { ModelPage: 'pending' });
    expect(await screen.findByText('Loading model…')).toBeInTheDocument();
  });

  it('shows an error state', async () => {
    await renderWithMlmeta(<ModelView entityRef={REF} />, {
      ModelPage: new MlmetaRequestError('mlmeta answered no data', {
        errors: [{ message: 'x', extensions: { code: 'UPSTREAM_UNAVAILABLE', source: 'catalog' } }],
      }),
    });
    expect(await screen.findByText(/Could not load model \(failing: catalog\)/)).toBeInTheDocument();
  });

  it('shows an empty state when no version is registered', async () => {
    const answer = fixture('ModelPage');
    answer.data.entity.model.versions.edges = [];
    await renderWithMlmeta(<ModelView entityRef={REF} />, { ...recorded(), ModelPage: answer });
    expect(await screen.findByText('No versions')).toBeInTheDocument();
  });

  it('lists versions with their approval, training run and deployments', async () => {
    await renderWithMlmeta(<ModelView entityRef={REF} />, recorded());
    const table = await screen.findByRole('table', { name: 'Model versions' });
    const v3 = within(table).getByTestId('version-3');
    expect(v3).toHaveTextContent('approved');
    expect(v3).toHaveTextContent('fake-user-profile-name');
    expect(v3).toHaveTextContent('2026-11-16 09:00 UTC');
    expect(v3).toHaveTextContent('Promoted to production after a 2-week shadow test.');
    expect(v3).toHaveTextContent('tuned-600-rounds');
    expect(v3).toHaveTextContent('churn-model-prod · production · InService');
    expect(within(table).getByTestId('version-2')).toHaveTextContent('Recall on customers with tenure');
  });

  it('renders the card of the deployed version with completeness and revisions', async () => {
    const { api } = await renderWithMlmeta(<ModelView entityRef={REF} />, recorded());
    expect(await screen.findByText('Model card: churn-model v3')).toBeInTheDocument();
    const v3 = fixture('ModelPage').data.entity.model.versions.edges.find((e: any) => e.node.version === '3').node;
    expect(api.callsOf('ModelCard')[0]).toEqual({ id: v3.id });
    const completeness = await screen.findByTestId('completeness');
    expect(completeness).toHaveTextContent('Still empty:');
    expect(completeness).toHaveTextContent('license');
    const card = fixture('ModelCard').data.node.card;
    const heading = card.markdown.split('\n').find((l: string) => l.startsWith('# ')).slice(2);
    expect(await screen.findByRole('heading', { name: heading })).toBeInTheDocument();
    const revisions = screen.getByRole('table', { name: 'Card revisions' });
    expect(within(revisions).getAllByRole('row')).toHaveLength(card.history.length + 1);
  });

  it('draws the lineage graph of the version, and reads it again as of a date', async () => {
    const { api } = await renderWithMlmeta(<ModelView entityRef={REF} />, recorded());
    const graph = await screen.findByRole('img', { name: 'Lineage of churn-model-v3' });
    const types = [...graph.querySelectorAll('[data-type]')].map(n => n.getAttribute('data-type'));
    for (const type of ['Dataset', 'PipelineExecution', 'ModelVersion', 'Deployment']) expect(types).toContain(type);
    expect(within(graph).getByTestId('node-churn-model-prod')).toBeInTheDocument();

    expect(api.callsOf('Lineage').pop()).toMatchObject({ of: expect.any(String), direction: 'BOTH', depth: 2 });

    fireEvent.change(screen.getByLabelText('As of'), { target: { value: '2026-10-01' } });
    expect(await screen.findByText('No lineage at this date')).toBeInTheDocument();
    expect(api.callsOf('Lineage').pop()).toMatchObject({ asOf: '2026-10-01T00:00:00.000Z', direction: 'BOTH' });

    fireEvent.change(screen.getByLabelText('Depth'), { target: { value: '4' } });
    await waitFor(() => expect(api.callsOf('Lineage').pop()).toMatchObject({ depth: 4 }));
  });

  it('downloads the audit bundle', async () => {
    const created: Blob[] = [];
    (URL as any).createObjectURL = jest.fn((blob: Blob) => {
      created.push(blob);
      return 'blob:bundle';
    });
    (URL as any).revokeObjectURL = jest.fn();
    const click = jest.spyOn(HTMLAnchorElement.prototype, 'click').mockImplementation(() => {});
    await renderWithMlmeta(<ModelView entityRef={REF} />, recorded());
    await screen.findByRole('img', { name: 'Lineage of churn-model-v3' });
    fireEvent.change(screen.getByLabelText('As of'), { target: { value: '2026-11-20' } });
    await waitFor(() => expect(screen.getByRole('button', { name: 'Download audit bundle' })).toBeEnabled());
    fireEvent.click(screen.getByRole('button', { name: 'Download audit bundle' }));
    await waitFor(() => expect(click).toHaveBeenCalled());
    const bundle = JSON.parse(await created[0].text());
    expect(bundle.format).toBe('mlmeta-lineage-bundle/1');
    expect(bundle.query).toMatchObject({ direction: 'BOTH', depth: 2, asOf: '2026-11-20T00:00:00.000Z' });
    expect(bundle.digest).toBe(fixture('Lineage').data.lineage.digest);
    expect(bundle.graph.root).toMatch(/^ModelVersion:arn:aws:sagemaker:.*model-package\/churn-model\/3$/);
    click.mockRestore();
  });

  it('shows partial data and names the failing source', async () => {
    await renderWithMlmeta(<ModelView entityRef={REF} />, {
      ...recorded(),
      ModelPage: fixture('ModelPage.partial'),
      Lineage: fixture('Lineage.partial'),
    });
    const notices = await screen.findAllByTestId('partial-sagemaker');
    expect(notices[0]).toHaveTextContent('Partial data: sagemaker failed (UPSTREAM_UNAVAILABLE)');
    expect(notices[0]).toHaveTextContent('approval');
    expect(notices[0]).toHaveTextContent('(4 items)');
    expect(screen.getAllByText('approval unavailable')).toHaveLength(4);
    // The lineage node whose source failed is drawn as unavailable, the rest stand.
    const graph = await screen.findByRole('img', { name: 'Lineage of churn-model-v3' });
    expect(within(graph).getByText('Deployment (unavailable)')).toBeInTheDocument();
    await waitFor(() => expect(screen.getAllByTestId('partial-sagemaker')).toHaveLength(2));
  });
});

describe('ModelView with AWS down (recorded)', () => {
  it('names SageMaker as the failing source of the model and of its lineage', async () => {
    await renderWithMlmeta(<ModelView entityRef={REF} />, { ModelPage: fixture('ModelPage.aws-down') });
    expect(await screen.findByTestId('partial-sagemaker')).toHaveTextContent('sagemaker cannot be reached — missing: model');
    expect(screen.queryByText('No model linked')).not.toBeInTheDocument();
  });

  it('names the source when the lineage failed', async () => {
    await renderWithMlmeta(<ModelView entityRef={REF} />, { ...recorded(), Lineage: fixture('Lineage.aws-down') });
    expect(await screen.findByTestId('partial-sagemaker')).toHaveTextContent('circuit open');
    expect(screen.getByRole('button', { name: 'Download audit bundle' })).toBeDisabled();
  });
});

describe('audit bundle', () => {
  it('keys nodes as the CLI does (decoded global ids)', () => {
    expect(lineageKey('RGF0YXNldDpzMzovL21sbWV0YS1kZW1vLWRhdGFzZXRzL2NodXJuL3RyYWluaW5nLzIwMjYtMTEtMDEvdHJhaW4uY3N2')).toBe(
      'Dataset:s3://mlmeta-demo-datasets/churn/training/2026-11-01/train.csv',
    );
  });

  it('holds the graph, cards, approvals and OpenLineage events of the answer', () => {
    const lineage = fixture('Lineage').data.lineage;
    const of = lineage.nodeIds[0];
    const bundle = makeBundle('http://x/api/proxy/mlmeta/graphql', { of, direction: 'BOTH', depth: 2, asOf: '2026-11-20T00:00:00Z', nodeBudget: 1000 }, lineage, new Date(0));
    expect(bundle.exportedAt).toBe('1970-01-01T00:00:00.000Z');
    expect(bundle.graph.nodes).toHaveLength(lineage.nodeIds.length);
    expect(bundle.graph.edges).toHaveLength(lineage.edges.length);
    expect(bundle.cards.length).toBeGreaterThan(0);
    expect(bundle.cards[0]).toHaveProperty('markdown');
    expect(bundle.approvals.map((a: any) => a.version)).toContain('3');
    expect(bundle.openLineage).toEqual(lineage.openLineage);
  });
});
