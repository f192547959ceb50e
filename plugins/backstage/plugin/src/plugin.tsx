import {
  ApiBlueprint,
  createFrontendPlugin,
  discoveryApiRef,
  fetchApiRef,
  identityApiRef,
} from '@backstage/frontend-plugin-api';
import { EntityContentBlueprint } from '@backstage/plugin-catalog-react/alpha';
import { MlmetaClient, mlmetaApiRef } from './api';

/**
 * Entity filters of the three tabs (the catalog conventions of mlmeta's README), as
 * entity predicates: every key must match (case-insensitively). Not the string form
 * (`'kind:resource,spec.type:ml-model'`): it is deprecated, and its comma is an OR, so
 * the model tab would show on every Resource.
 */
export const PIPELINE_FILTER = { kind: 'component', 'spec.type': 'ml-pipeline' };
export const MODEL_FILTER = { kind: 'resource', 'spec.type': 'ml-model' };
export const DATASET_FILTER = { kind: 'resource', 'spec.type': 'dataset' };

/** `api:mlmeta`: the mlmeta client, through the proxy endpoint `/mlmeta`. */
export const mlmetaApi = ApiBlueprint.make({
  params: defineParams =>
    defineParams({
      api: mlmetaApiRef,
      deps: { discoveryApi: discoveryApiRef, fetchApi: fetchApiRef, identityApi: identityApiRef },
      factory: ({ discoveryApi, fetchApi, identityApi }) =>
        new MlmetaClient({ discoveryApi, fetchApi, identityApi }),
    }),
});

/** `entity-content:mlmeta/pipeline`: the "ML pipeline" tab of ml-pipeline components. */
export const mlmetaPipelineContent = EntityContentBlueprint.make({
  name: 'pipeline',
  params: {
    path: '/mlmeta-pipeline',
    title: 'ML pipeline',
    filter: PIPELINE_FILTER,
    loader: () =>
      import('./components/EntityContent').then(m => <m.EntityMlmetaPipelineContent />),
  },
});

/** `entity-content:mlmeta/model`: the "ML model" tab of ml-model resources. */
export const mlmetaModelContent = EntityContentBlueprint.make({
  name: 'model',
  params: {
    path: '/mlmeta-model',
    title: 'ML model',
    filter: MODEL_FILTER,
    loader: () => import('./components/EntityContent').then(m => <m.EntityMlmetaModelContent />),
  },
});

/** `entity-content:mlmeta/dataset`: the "Downstream" tab of dataset resources. */
export const mlmetaDatasetContent = EntityContentBlueprint.make({
  name: 'dataset',
  params: {
    path: '/mlmeta-dataset',
    title: 'Downstream',
    filter: DATASET_FILTER,
    loader: () =>
      import('./components/EntityContent').then(m => <m.EntityMlmetaDatasetContent />),
  },
});

/** The mlmeta plugin for Backstage's new frontend system. */
export const mlmetaPlugin = createFrontendPlugin({
  pluginId: 'mlmeta',
  title: 'ML metadata',
  info: { packageJson: () => import('../package.json') },
  extensions: [mlmetaApi, mlmetaPipelineContent, mlmetaModelContent, mlmetaDatasetContent],
});
