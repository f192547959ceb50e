import { useApi } from '@backstage/frontend-plugin-api';
import { Box, Button, TextField, Typography } from '@material-ui/core';
import { useState } from 'react';
import { mlmetaApiRef } from '../../api';
import { LineageDocument, type LineageQuery } from '../../generated/graphql';
import { useMlmetaQuery } from '../../hooks/useMlmetaQuery';
import { formatInstant } from '../common/format';
import { GraphSvg, type GraphNodeView } from '../common/GraphSvg';
import { useStatusColor } from '../common/StatusChip';
import { Empty, ErrorState, LoadingState, PartialNotice } from '../common/states';
import { download, lineageKey, makeBundle } from './bundle';

const DIRECTION = 'BOTH' as const;
/** 2 hops around a version: its run and that run's datasets, its card, its deployments. */
const DEFAULT_DEPTH = 2;
const DEPTHS = [1, 2, 3, 4, 5, 6];
const NODE_BUDGET = 1000;

type LineageNode = NonNullable<NonNullable<NonNullable<LineageQuery['lineage']>['nodes']>[number]>;

function describeNode(node: LineageNode): { title: string; subtitle: string; status?: string } {
  switch (node.__typename) {
    case 'Dataset':
      return { title: node.name, subtitle: `dataset${node.datasetVersion ? ` @${node.datasetVersion}` : ''}` };
    case 'PipelineExecution':
      return { title: node.name, subtitle: `run · ${node.runStatus.toLowerCase()}`, status: node.runStatus };
    case 'ModelVersion':
      return {
        title: `${node.model?.name ?? 'model'} v${node.version}`,
        subtitle: `version · ${node.versionStatus.toLowerCase().replace(/_/g, ' ')}`,
        status: node.versionStatus,
      };
    case 'Deployment':
      return {
        title: node.name,
        subtitle: `deployment${node.environment ? ` · ${node.environment}` : ''}`,
        status: node.endpointStatus,
      };
    case 'ModelCard':
      return { title: `card r${node.revision}`, subtitle: `${node.source} · ${node.cardStatus.toLowerCase()}`, status: node.cardStatus };
    case 'CatalogEntity':
      return { title: node.title ?? node.ref, subtitle: 'catalog entity' };
    default:
      return { title: node.id, subtitle: node.__typename };
  }
}

/** "YYYY-MM-DD" (the date picker) as mlmeta's asOf: 00:00 UTC that day, as the CLI writes it. */
export function asOfInstant(date: string): string | undefined {
  return date ? `${date}T00:00:00.000Z` : undefined;
}

/**
 * The lineage of a model version (dataset → run → version → deployment, cards that
 * describe it) as it stood at a date, and a button that downloads the audit bundle.
 */
export function LineagePanel({ versionId, label }: { versionId: string; label: string }) {
  const api = useApi(mlmetaApiRef);
  const color = useStatusColor();
  const [date, setDate] = useState('');
  const [depth, setDepth] = useState(DEFAULT_DEPTH);
  const [now] = useState(() => new Date().toISOString());
  const asOf = asOfInstant(date) ?? now;
  const { loading, error, data, errors, stale, retry } = useMlmetaQuery(LineageDocument, {
    of: versionId,
    direction: DIRECTION,
    depth,
    asOf,
    nodeBudget: NODE_BUDGET,
  });
  const lineage = data?.lineage;
  const save = async () => {
    if (!lineage) return;
    const bundle = makeBundle(await api.endpoint(), { of: versionId, direction: DIRECTION, depth, asOf, nodeBudget: NODE_BUDGET }, lineage);
    download(`lineage-${label}-${asOf.slice(0, 10)}.json`, `${JSON.stringify(bundle, null, 2)}\n`);
  };
  const resolved = new Map((lineage?.nodes ?? []).flatMap(n => (n ? [[n.id, n] as const] : [])));
  const nodes: GraphNodeView[] = (lineage?.nodeIds ?? []).map(id => {
    const node = resolved.get(id);
    if (!node) {
      const [type, ...rest] = lineageKey(id).split(':');
      return { id, title: rest.join(':').split('/').pop() ?? id, subtitle: `${type} (unavailable)` };
    }
    const d = describeNode(node);
    return {
      id,
      title: d.title,
      subtitle: d.subtitle,
      color: d.status ? color(d.status) : undefined,
      emphasis: id === versionId,
      attributes: { 'data-type': node.__typename },
    };
  });
  return (
    <Box>
      <Box display="flex" alignItems="center" flexWrap="wrap" style={{ gap: 12 }} mb={1}>
        <TextField
          size="small"
          type="date"
          id={`mlmeta-as-of-${label}`}
          label="As of"
          InputLabelProps={{ shrink: true }}
          value={date}
          onChange={e => setDate(e.target.value)}
          helperText={date ? '00:00 UTC that day' : 'now'}
        />
        <TextField
          select
          size="small"
          id={`mlmeta-depth-${label}`}
          label="Depth"
          value={depth}
          onChange={e => setDepth(Number(e.target.value))}
          SelectProps={{ native: true }}
          helperText="hops from the version"
        >
          {DEPTHS.map(d => (
            <option key={d} value={d}>
              {d}
            </option>
          ))}
        </TextField>
        <Button variant="outlined" size="small" onClick={save} disabled={!lineage}>
          Download audit bundle
        </Button>
        {lineage && (
          <Typography variant="caption" color="textSecondary">
            as of {formatInstant(lineage.asOf)} · {lineage.nodeIds.length} nodes · {lineage.edges.length} edges
            {lineage.truncated ? ' · truncated' : ''}
            {lineage.withheld ? ` · ${lineage.withheld} withheld` : ''} · digest {lineage.digest.slice(0, 12)}…
          </Typography>
        )}
      </Box>
      {loading && !data && <LoadingState what="lineage" />}
      {error && <ErrorState what="lineage" error={error} retry={retry} />}
      {!error && data && <PartialNotice errors={errors} stale={stale} />}
      {!error && lineage && lineage.edges.length === 0 && (
        <Empty title="No lineage at this date" description="Nothing was recorded around this version yet." />
      )}
      {!error && lineage && lineage.edges.length > 0 && (
        <GraphSvg
          nodes={nodes}
          edges={lineage.edges.map(e => ({ from: e.from, to: e.to, label: e.kind.toLowerCase(), dashed: !!e.retiredAt }))}
          label={`Lineage of ${label}`}
        />
      )}
    </Box>
  );
}
