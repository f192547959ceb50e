/**
 * mlmeta for Backstage: ML pipelines (live runs, metrics), models (versions, cards,
 * lineage) and datasets (what is downstream), from one GraphQL gateway.
 *
 * @packageDocumentation
 */
export { mlmetaPlugin as default } from './plugin';
export {
  mlmetaPlugin,
  mlmetaApi,
  mlmetaPipelineContent,
  mlmetaModelContent,
  mlmetaDatasetContent,
  PIPELINE_FILTER,
  MODEL_FILTER,
  DATASET_FILTER,
} from './plugin';
export {
  mlmetaLegacyPlugin,
  EntityMlmetaPipelineContent,
  EntityMlmetaModelContent,
  EntityMlmetaDatasetContent,
} from './legacy';
export * from './api';
export { MlmetaPipelineView } from './components/pipeline/PipelineContent';
export { ModelView as MlmetaModelView } from './components/model/ModelView';
export { DatasetView as MlmetaDatasetView } from './components/dataset/DatasetView';
export { operationDocuments } from './generated/documents';
