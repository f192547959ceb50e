import { DatasetView } from './dataset/DatasetView';
import { ModelView } from './model/ModelView';
import { MlmetaPipelineView } from './pipeline/PipelineContent';
import { useEntityAnnotation, useEntityRef } from './useEntityRef';

/** The ML pipeline tab of the current entity (ml-pipeline components). */
export function EntityMlmetaPipelineContent() {
  return <MlmetaPipelineView entityRef={useEntityRef()} />;
}

/** The ML model tab of the current entity (ml-model resources). */
export function EntityMlmetaModelContent() {
  return <ModelView entityRef={useEntityRef()} />;
}

/** What is downstream of the current dataset entity (dataset resources). */
export function EntityMlmetaDatasetContent() {
  return (
    <DatasetView
      entityRef={useEntityRef()}
      datasetUri={useEntityAnnotation('mlmeta.io/dataset-uri')}
    />
  );
}
