import { coreExtensionData } from '@backstage/frontend-plugin-api';
import { createExtensionTester, renderInTestApp } from '@backstage/frontend-test-utils';
import { EntityProvider } from '@backstage/plugin-catalog-react';
import { EntityContentBlueprint } from '@backstage/plugin-catalog-react/alpha';
import { screen } from '@testing-library/react';
import { mlmetaApiRef } from './api';
import mlmetaPlugin, {
  EntityMlmetaPipelineContent,
  mlmetaDatasetContent,
  mlmetaLegacyPlugin,
  mlmetaModelContent,
  mlmetaPipelineContent,
} from './index';
import { FakeMlmetaApi, fixture } from './__testUtils__/FakeMlmetaApi';

jest.mock('uplot', () => require('./__testUtils__/uplotMock'));
jest.mock('uplot/dist/uPlot.min.css', () => ({}));

const pipelineEntity = {
  apiVersion: 'backstage.io/v1alpha1',
  kind: 'Component',
  metadata: { name: 'churn-training-pipeline', namespace: 'default' },
  spec: { type: 'ml-pipeline', owner: 'group:default/ml-platform', lifecycle: 'production' },
};

describe('mlmetaPlugin', () => {
  it('is the default export, with the API and one entity tab per kind', () => {
    expect(mlmetaPlugin.pluginId).toBe('mlmeta');
    for (const id of ['api:mlmeta', 'entity-content:mlmeta/pipeline', 'entity-content:mlmeta/model', 'entity-content:mlmeta/dataset']) {
      expect(mlmetaPlugin.getExtension(id as any)).toBeDefined();
    }
  });

  it('has a legacy createPlugin form with entity components', () => {
    expect(mlmetaLegacyPlugin.getId()).toBe('mlmeta');
    expect([...mlmetaLegacyPlugin.getApis()].map(f => f.api.id)).toEqual([mlmetaApiRef.id]);
    expect(typeof EntityMlmetaPipelineContent).toBe('function');
  });

  const entityOf = (kind: string, name: string, type: string) => ({
    apiVersion: 'backstage.io/v1alpha1',
    kind,
    metadata: { name, namespace: 'default' },
    spec: { type, owner: 'group:default/ml-platform' },
  });
  // The demo's entities of each kind, and their neighbours that must not get the tab.
  const pipeline = pipelineEntity;
  const model = entityOf('Resource', 'churn-model', 'ml-model');
  const dataset = entityOf('Resource', 'churn-training-set', 'dataset');
  const service = entityOf('Component', 'gateway', 'service');
  const otherResource = entityOf('Resource', 'features-db', 'database');
  const otherKindSameType = entityOf('API', 'churn-api', 'ml-model');

  it.each([
    ['pipeline', mlmetaPipelineContent, '/mlmeta-pipeline', [pipeline]],
    ['model', mlmetaModelContent, '/mlmeta-model', [model]],
    ['dataset', mlmetaDatasetContent, '/mlmeta-dataset', [dataset]],
  ])('mounts the %s tab at its path, for its kind and type only', (_name, extension, path, matching) => {
    const warn = jest.spyOn(console, 'warn').mockImplementation(() => {});
    try {
      const tester = createExtensionTester(extension as any);
      expect(tester.get(coreExtensionData.routePath)).toBe(path);
      // A predicate object (not the deprecated string, whose comma is an OR: with
      // 'kind:resource,spec.type:ml-model' every Resource had the model tab).
      const matches = tester.get(EntityContentBlueprint.dataRefs.filterFunction) as unknown as (
        entity: unknown,
      ) => boolean;
      expect(typeof matches).toBe('function');
      const all = [pipeline, model, dataset, service, otherResource, otherKindSameType];
      expect(all.filter(e => matches(e)).map(e => e.metadata.name)).toEqual(
        matching.map(e => e.metadata.name),
      );
      expect(warn.mock.calls.flat().join(' ')).not.toMatch(/DEPRECATION/);
    } finally {
      warn.mockRestore();
    }
  });

  it('renders the pipeline tab for the entity of the page', async () => {
    const api = new FakeMlmetaApi({
      PipelinePage: fixture('PipelinePage'),
      PipelineRuns: fixture('PipelineRuns'),
      MetricEvolution: fixture('MetricEvolution'),
    });
    const tester = createExtensionTester(mlmetaPipelineContent, { apis: [[mlmetaApiRef, api]] });
    renderInTestApp(<EntityProvider entity={pipelineEntity}>{tester.reactElement()}</EntityProvider>, {
      apis: [[mlmetaApiRef, api]],
    });
    expect(await screen.findByText('Latest run: nightly')).toBeInTheDocument();
    expect(api.callsOf('PipelinePage')).toEqual([{ ref: 'component:default/churn-training-pipeline' }]);
  });
});
