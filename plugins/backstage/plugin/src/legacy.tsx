import {
  createApiFactory,
  createComponentExtension,
  createPlugin,
  discoveryApiRef,
  fetchApiRef,
  identityApiRef,
} from '@backstage/core-plugin-api';
import { MlmetaClient, mlmetaApiRef } from './api';

/**
 * The same plugin for apps on the legacy frontend system (`createPlugin`): add the
 * components below to the entity pages (see README).
 */
export const mlmetaLegacyPlugin = createPlugin({
  id: 'mlmeta',
  apis: [
    createApiFactory({
      api: mlmetaApiRef,
      deps: { discoveryApi: discoveryApiRef, fetchApi: fetchApiRef, identityApi: identityApiRef },
      factory: ({ discoveryApi, fetchApi, identityApi }) =>
        new MlmetaClient({ discoveryApi, fetchApi, identityApi }),
    }),
  ],
});

export const EntityMlmetaPipelineContent = mlmetaLegacyPlugin.provide(
  createComponentExtension({
    name: 'EntityMlmetaPipelineContent',
    component: {
      lazy: () => import('./components/EntityContent').then(m => m.EntityMlmetaPipelineContent),
    },
  }),
);

export const EntityMlmetaModelContent = mlmetaLegacyPlugin.provide(
  createComponentExtension({
    name: 'EntityMlmetaModelContent',
    component: {
      lazy: () => import('./components/EntityContent').then(m => m.EntityMlmetaModelContent),
    },
  }),
);

export const EntityMlmetaDatasetContent = mlmetaLegacyPlugin.provide(
  createComponentExtension({
    name: 'EntityMlmetaDatasetContent',
    component: {
      lazy: () => import('./components/EntityContent').then(m => m.EntityMlmetaDatasetContent),
    },
  }),
);
