import { InfoCard } from '@backstage/core-components';
import { useApi } from '@backstage/frontend-plugin-api';
import {
  Box,
  Chip,
  Table,
  TableBody,
  TableCell,
  TableHead,
  TableRow,
  Typography,
} from '@material-ui/core';
import { Fragment, useEffect, useState } from 'react';
import { mlmetaApiRef, type MlmetaGraphQLError } from '../../api';
import {
  DatasetImpactDocument,
  DatasetLineageDocument,
  DatasetSourcesDocument,
  type DatasetImpactQuery,
} from '../../generated/graphql';
import { formatInstant } from '../common/format';
import { lineageKey } from '../model/bundle';
import { Empty, ErrorState, LoadingState, PartialNotice } from '../common/states';

export const DATASET_URI_ANNOTATION = 'mlmeta.io/dataset-uri';
const MAX_DATASETS = 10;

interface DatasetRecord {
  id: string;
  name: string;
  uri: string;
  createdAt?: string | null;
}

type Impact = NonNullable<DatasetImpactQuery['impact']>;

interface DownstreamState {
  loading: boolean;
  error?: Error;
  prefix?: string | null;
  datasets: Array<DatasetRecord & { impact: Impact | null }>;
  errors: MlmetaGraphQLError[];
}

/**
 * The datasets a dataset entity covers (recorded URIs under its mlmeta.io/dataset-uri
 * prefix, found among the inputs of the pipelines that depend on it and upstream of
 * those inputs), and what each feeds now: deployments downstream and the path there.
 */
function useDownstream(entityRef: string, annotationUri?: string): DownstreamState & { retry: () => void } {
  const api = useApi(mlmetaApiRef);
  const [attempt, setAttempt] = useState(0);
  const [state, setState] = useState<DownstreamState>({ loading: true, datasets: [], errors: [] });
  useEffect(() => {
    let current = true;
    const run = async () => {
      const errors: MlmetaGraphQLError[] = [];
      const sources = await api.query(DatasetSourcesDocument, { ref: entityRef, annotation: DATASET_URI_ANNOTATION });
      errors.push(...sources.errors);
      const prefix = annotationUri ?? sources.data.entity?.annotation ?? null;
      const inputs = new Map<string, DatasetRecord>();
      for (const relation of sources.data.entity?.relations ?? []) {
        for (const edge of relation.target?.pipeline?.executions?.edges ?? []) {
          for (const input of edge.node.inputs ?? []) inputs.set(input.uri, input);
        }
      }
      const under = (d: DatasetRecord) => !!prefix && d.uri.startsWith(prefix);
      const found = new Map([...inputs].filter(([, d]) => under(d)));
      if (prefix && !found.size) {
        // Not read directly: look upstream of what the pipelines read (e.g. raw events
        // that a feature job turned into the training set).
        const upstream = await Promise.all(
          [...inputs.values()].slice(0, MAX_DATASETS).map(d => api.query(DatasetLineageDocument, { of: d.id })),
        );
        for (const answer of upstream) {
          errors.push(...answer.errors);
          for (const node of answer.data.lineage?.nodes ?? []) {
            if (node?.__typename === 'Dataset' && under(node)) found.set(node.uri, node);
          }
        }
      }
      const datasets = [...found.values()]
        .sort((a, b) => b.uri.localeCompare(a.uri))
        .slice(0, MAX_DATASETS);
      const impacts = await Promise.all(datasets.map(d => api.query(DatasetImpactDocument, { datasetId: d.id })));
      impacts.forEach(a => errors.push(...a.errors));
      if (current) {
        setState({
          loading: false,
          prefix,
          datasets: datasets.map((d, i) => ({ ...d, impact: impacts[i].data.impact ?? null })),
          errors,
        });
      }
    };
    setState(s => ({ ...s, loading: true, error: undefined }));
    run().catch(error => current && setState({ loading: false, error, datasets: [], errors: [] }));
    return () => {
      current = false;
    };
  }, [api, entityRef, annotationUri, attempt]);
  return { ...state, retry: () => setAttempt(n => n + 1) };
}

/** What is downstream of a dataset entity: deployments fed by its data, and the paths. */
export function DatasetView({ entityRef, datasetUri }: { entityRef: string; datasetUri?: string }) {
  const { loading, error, prefix, datasets, errors, retry } = useDownstream(entityRef, datasetUri);
  if (loading) return <LoadingState what="downstream impact" />;
  if (error) return <ErrorState what="downstream impact" error={error} retry={retry} />;
  const rows = datasets.flatMap(d => (d.impact ?? []).map(path => ({ dataset: d, path })));
  return (
    <InfoCard
      title="Downstream"
      subheader={prefix ? `Datasets under ${prefix}, and the deployments they feed now.` : undefined}
    >
      <PartialNotice errors={errors} />
      {!prefix && (
        <Empty
          title="No dataset location"
          description={`Annotate the entity with ${DATASET_URI_ANNOTATION} (e.g. s3://bucket/prefix/) to see what depends on it.`}
        />
      )}
      {prefix && !datasets.length && !errors.length && (
        <Empty title="No recorded dataset" description={`mlmeta has recorded no dataset under ${prefix} that a pipeline used.`} />
      )}
      {prefix && datasets.length > 0 && (
        <>
          <Typography variant="body2" gutterBottom>
            {datasets.length} dataset{datasets.length > 1 ? 's' : ''} recorded · {rows.length} downstream deployment
            {rows.length === 1 ? '' : 's'}
          </Typography>
          {!rows.length ? (
            <Empty title="Nothing downstream" description="No deployment depends on these datasets now." />
          ) : (
            <Table size="small" aria-label="Downstream deployments">
              <TableHead>
                <TableRow>
                  <TableCell style={{ whiteSpace: 'nowrap' }}>Dataset</TableCell>
                  <TableCell style={{ whiteSpace: 'nowrap' }}>Deployment</TableCell>
                  <TableCell style={{ whiteSpace: 'nowrap' }}>Environment</TableCell>
                  <TableCell style={{ whiteSpace: 'nowrap' }}>Model version</TableCell>
                  <TableCell style={{ whiteSpace: 'nowrap' }}>Path</TableCell>
                </TableRow>
              </TableHead>
              <TableBody>
                {rows.map(({ dataset, path }) => (
                  <TableRow key={`${dataset.uri}-${path.deploymentId}`} data-testid="impact-row">
                    <TableCell>
                      <Typography variant="body2">{dataset.uri}</Typography>
                      {dataset.createdAt && (
                        <Typography variant="caption" color="textSecondary">
                          recorded {formatInstant(dataset.createdAt)}
                        </Typography>
                      )}
                    </TableCell>
                    <TableCell>{path.deployment?.name ?? `${endpointName(path.deploymentId)} (details unavailable)`}</TableCell>
                    <TableCell style={{ whiteSpace: 'nowrap' }}>{path.deployment?.environment ?? '—'}</TableCell>
                    <TableCell>
                      {path.deployment?.modelVersion
                        ? `${path.deployment.modelVersion.model?.name ?? ''} v${path.deployment.modelVersion.version}`
                        : '—'}
                    </TableCell>
                    <TableCell>
                      <Box display="flex" flexWrap="wrap" alignItems="center" style={{ gap: 4 }}>
                        {(path.path ?? []).map((node, i) => (
                          <Fragment key={i}>
                            {i > 0 && <span aria-hidden>→</span>}
                            <Chip size="small" variant="outlined" label={node ? pathLabel(node) : 'unavailable'} />
                          </Fragment>
                        ))}
                      </Box>
                    </TableCell>
                  </TableRow>
                ))}
              </TableBody>
            </Table>
          )}
        </>
      )}
    </InfoCard>
  );
}

/** A deployment's endpoint name from its id (Deployment:<endpoint ARN>), when SageMaker cannot say. */
function endpointName(deploymentId: string): string {
  try {
    return lineageKey(deploymentId).split('/').pop() ?? deploymentId;
  } catch {
    return deploymentId;
  }
}

function pathLabel(node: NonNullable<NonNullable<Impact[number]['path']>[number]>): string {
  switch (node.__typename) {
    case 'Dataset':
      return node.name;
    case 'PipelineExecution':
      return `run ${node.name}`;
    case 'ModelVersion':
      return `v${node.version}`;
    case 'Deployment':
      return node.name;
    default:
      return node.__typename;
  }
}
