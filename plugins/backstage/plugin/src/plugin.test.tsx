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

  it.each([
    [mlmetaPipelineContent, '/mlmeta-pipeline', 'kind:component,spec.type:ml-pipeline'],
    [mlmetaModelContent, '/mlmeta-model', 'kind:resource,spec.type:ml-model'],
    [mlmetaDatasetContent, '/mlmeta-dataset', 'kind:resource,spec.type:dataset'],
  ])('mounts %# at its path for matching entities only', (extension, path, filter) => {
    const tester = createExtensionTester(extension as any);
    expect(tester.get(coreExtensionData.routePath)).toBe(path);
    expect(tester.get(EntityContentBlueprint.dataRefs.filterExpression)).toBe(filter);
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
