import { Box, Chip, Typography } from '@material-ui/core';
import type { PipelinePageQuery } from '../../generated/graphql';
import type { LiveExecution, LiveMode } from '../../hooks/useLiveExecution';
import { formatDuration, formatInstant } from '../common/format';
import { GraphSvg } from '../common/GraphSvg';
import { StatusChip, useStatusColor } from '../common/StatusChip';

type Graph = NonNullable<NonNullable<PipelinePageQuery['entity']>['pipeline']>['graph'];

const MODE_LABEL: Record<LiveMode, string> = {
  websocket: 'live (websocket)',
  polling: 'live (polling)',
  idle: 'no run going',
};

/** The pipeline's static step graph with the newest run's step states drawn on it. */
export function StepGraph({
  graph,
  execution,
  mode,
}: {
  graph: Graph;
  execution: LiveExecution | null;
  mode?: LiveMode;
}) {
  const color = useStatusColor();
  const steps = new Map((execution?.steps ?? []).map(s => [s.name, s]));
  const nodes = graph.nodes.map(node => {
    const step = steps.get(node.name);
    const status = step?.status ?? 'NOT_RUN';
    const detail = step
      ? [
          step.status.toLowerCase(),
          step.durationSeconds !== null ? formatDuration(step.durationSeconds) : undefined,
          step.attempts > 1 ? `${step.attempts} tries` : undefined,
        ]
          .filter(Boolean)
          .join(' · ')
      : node.type;
    return {
      id: node.name,
      title: node.name,
      subtitle: detail,
      color: step ? color(step.status) : undefined,
      description: [
        `${node.name} (${node.type}${node.parent ? ` in ${node.parent}` : ''})`,
        step ? `status: ${step.status}` : 'not run by this run',
        step?.error?.error ? `error: ${step.error.error}` : undefined,
        step?.error?.cause ? `cause: ${step.error.cause}` : undefined,
      ]
        .filter(Boolean)
        .join('\n'),
      emphasis: status === 'RUNNING',
      attributes: { 'data-status': status },
    };
  });
  return (
    <Box>
      <Box display="flex" alignItems="center" flexWrap="wrap" mb={1} style={{ gap: 8 }}>
        {execution ? (
          <>
            <Typography variant="subtitle2">Latest run: {execution.name}</Typography>
            <StatusChip status={execution.status} />
            <Typography variant="body2" color="textSecondary">
              started {formatInstant(execution.startedAt)}
              {execution.durationSeconds !== null ? ` · ${formatDuration(execution.durationSeconds)}` : ''}
            </Typography>
          </>
        ) : (
          <Typography variant="subtitle2">No run yet</Typography>
        )}
        {mode && <Chip size="small" label={MODE_LABEL[mode]} data-testid="live-mode" />}
        {execution && execution.steps === null && (
          <Typography variant="body2" color="error">
            step states unavailable
          </Typography>
        )}
      </Box>
      <GraphSvg nodes={nodes} edges={graph.edges} label="Pipeline step graph" direction="TB" />
    </Box>
  );
}
