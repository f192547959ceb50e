import {
  Box,
  Button,
  Checkbox,
  Link,
  Table,
  TableBody,
  TableCell,
  TableHead,
  TableRow,
  Tooltip,
  Typography,
} from '@material-ui/core';
import { useState } from 'react';
import { PipelineRunsDocument } from '../../generated/graphql';
import { useMlmetaQuery } from '../../hooks/useMlmetaQuery';
import { formatDuration, formatNumber } from '../common/format';
import { readRunTable } from '../common/runTable';
import { Empty, ErrorState, LoadingState, PartialNotice } from '../common/states';
import { Instant } from '../common/Instant';
import { StatusChip } from '../common/StatusChip';

const FAILED = new Set(['FAILED', 'TIMED_OUT', 'ABORTED']);
// A cause takes at most three lines; the tooltip holds all of it.
const CAUSE_STYLE = {
  display: '-webkit-box',
  WebkitLineClamp: 3,
  WebkitBoxOrient: 'vertical',
  overflow: 'hidden',
} as const;

export interface RunsTableProps {
  entityRef: string;
  /** Metric columns to show (the last value of each, from the RunTable). */
  metrics?: string[];
  pageSize?: number;
  selected: string[];
  onToggle: (id: string) => void;
  onOpen: (id: string) => void;
  maxSelected?: number;
}

/** A page of runs: status, duration, failed step and cause, key metrics; paged by cursor. */
export function RunsTable({
  entityRef,
  metrics = [],
  pageSize = 10,
  selected,
  onToggle,
  onOpen,
  maxSelected = 10,
}: RunsTableProps) {
  // Cursors of the pages seen so far: [undefined (first page), after page 1, ...].
  const [cursors, setCursors] = useState<Array<string | undefined>>([undefined]);
  const after = cursors[cursors.length - 1];
  const { loading, error, data, errors, stale, retry } = useMlmetaQuery(PipelineRunsDocument, {
    ref: entityRef,
    first: pageSize,
    after,
    metrics: metrics.length ? metrics : undefined,
  });
  const connection = data?.entity?.pipeline?.executions;
  if (loading && !data) return <LoadingState what="runs" />;
  if (error) return <ErrorState what="runs" error={error} retry={retry} />;
  const rows = readRunTable(connection?.table);
  const details = new Map((connection?.edges ?? []).map(e => [e.node.id, e.node]));
  // Rows come from the RunTable; when its sources failed, fall back to the edges.
  const runs = rows.length
    ? rows
    : (connection?.edges ?? []).map(e => ({
        id: e.node.id,
        name: e.node.name,
        status: 'unknown',
        startedAt: 0,
        stoppedAt: null,
        parameters: {},
        metrics: {} as Record<string, number | null>,
      }));
  return (
    <Box>
      <PartialNotice errors={errors} stale={stale} />
      {connection && !runs.length && (
        <Empty title="No runs yet" description="Runs appear here once the pipeline has run." />
      )}
      {runs.length > 0 && (
        // The metrics come right after the duration, the long cause last; wider than its
        // card (many metric columns, a narrow window), the table scrolls sideways.
        <Box style={{ overflowX: 'auto' }} data-testid="runs-scroll">
        <Table size="small" aria-label="Runs">
          <TableHead>
            <TableRow>
              <TableCell padding="checkbox" />
              <TableCell style={{ whiteSpace: 'nowrap' }}>Run</TableCell>
              <TableCell style={{ whiteSpace: 'nowrap' }}>Status</TableCell>
              <TableCell style={{ whiteSpace: 'nowrap' }}>Started</TableCell>
              <TableCell style={{ whiteSpace: 'nowrap' }}>Duration</TableCell>
              {metrics.map(m => (
                <TableCell key={m} align="right" style={{ whiteSpace: 'nowrap' }}>
                  {m}
                </TableCell>
              ))}
              <TableCell style={{ whiteSpace: 'nowrap' }}>Failed step</TableCell>
              <TableCell style={{ whiteSpace: 'nowrap' }}>Cause</TableCell>
            </TableRow>
          </TableHead>
          <TableBody>
            {runs.map(run => {
              const detail = details.get(run.id);
              const failedStep = detail?.steps?.find(s => FAILED.has(s.status));
              const cause =
                failedStep?.error?.cause ?? failedStep?.error?.error ?? detail?.error?.cause ?? detail?.error?.error;
              const duration =
                detail?.durationSeconds ??
                (run.stoppedAt && run.startedAt ? (run.stoppedAt - run.startedAt) / 1000 : null);
              const isSelected = selected.includes(run.id);
              return (
                <TableRow key={run.id} hover selected={isSelected} data-testid={`run-${run.name}`}>
                  <TableCell padding="checkbox">
                    <Checkbox
                      size="small"
                      checked={isSelected}
                      disabled={!isSelected && selected.length >= maxSelected}
                      onChange={() => onToggle(run.id)}
                      inputProps={{ 'aria-label': `select ${run.name}` }}
                    />
                  </TableCell>
                  <TableCell style={{ whiteSpace: 'nowrap' }}>
                    <Link component="button" variant="body2" onClick={() => onOpen(run.id)}>
                      {run.name}
                    </Link>
                  </TableCell>
                  <TableCell>
                    <StatusChip status={run.status === 'unknown' ? undefined : run.status} />
                  </TableCell>
                  <TableCell>{run.startedAt ? <Instant value={run.startedAt} /> : '—'}</TableCell>
                  <TableCell style={{ whiteSpace: 'nowrap' }}>{formatDuration(duration)}</TableCell>
                  {metrics.map(m => (
                    <TableCell key={m} align="right" style={{ whiteSpace: 'nowrap' }}>
                      {formatNumber(run.metrics[m])}
                    </TableCell>
                  ))}
                  <TableCell style={{ whiteSpace: 'nowrap' }}>
                    {failedStep?.name ?? (FAILED.has(run.status) ? 'unknown' : '')}
                  </TableCell>
                  <TableCell style={{ minWidth: 200 }}>
                    {cause && (
                      <Tooltip title={cause}>
                        <Typography variant="body2" className="mlmeta-cause" style={CAUSE_STYLE}>
                          {cause}
                        </Typography>
                      </Tooltip>
                    )}
                  </TableCell>
                </TableRow>
              );
            })}
          </TableBody>
        </Table>
        </Box>
      )}
      <Box display="flex" justifyContent="flex-end" alignItems="center" mt={1} style={{ gap: 8 }}>
        <Typography variant="caption" color="textSecondary">
          Page {cursors.length}
        </Typography>
        <Button
          size="small"
          disabled={cursors.length < 2 || loading}
          onClick={() => setCursors(c => c.slice(0, -1))}
        >
          Previous
        </Button>
        <Button
          size="small"
          disabled={!connection?.pageInfo.hasNextPage || loading}
          onClick={() => setCursors(c => [...c, connection?.pageInfo.endCursor ?? undefined])}
        >
          Next
        </Button>
      </Box>
    </Box>
  );
}
