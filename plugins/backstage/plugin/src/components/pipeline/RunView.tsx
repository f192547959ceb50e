import { Box, Button, Grid, TextField, Typography } from '@material-ui/core';
import { useMemo, useState } from 'react';
import { RunSeriesDocument } from '../../generated/graphql';
import { useMlmetaQuery } from '../../hooks/useMlmetaQuery';
import { formatInstant, formatNumber } from '../common/format';
import { SeriesChart } from '../common/SeriesChart';
import { Empty, ErrorState, LoadingState, PartialNotice } from '../common/states';
import { StatusChip } from '../common/StatusChip';

export interface StepRange {
  minStep?: number;
  maxStep?: number;
}

/**
 * One run's per-step metric series, downsampled by mlmeta (min/max buckets) to
 * `maxPoints`; zooming (drag across a chart, or the step fields) asks again for
 * that step range only, so the detail comes back at full resolution.
 */
export function RunView({ executionId, maxPoints = 400 }: { executionId: string; maxPoints?: number }) {
  const [range, setRange] = useState<StepRange>({});
  const [draft, setDraft] = useState<{ min: string; max: string }>({ min: '', max: '' });
  const { loading, error, data, errors, stale, retry } = useMlmetaQuery(RunSeriesDocument, {
    id: executionId,
    maxPoints,
    minStep: range.minStep,
    maxStep: range.maxStep,
  });
  const run = data?.execution;
  const charts = useMemo(
    () =>
      (run?.metricSeries ?? []).map(s => ({
        name: s.name,
        meta: s,
        series: [{ label: s.name, columns: s.columns }],
      })),
    [run?.metricSeries],
  );
  const zoom = (next: StepRange) => {
    setRange(next);
    setDraft({ min: next.minStep?.toString() ?? '', max: next.maxStep?.toString() ?? '' });
  };
  if (loading && !data) return <LoadingState what="run series" />;
  if (error) return <ErrorState what="run series" error={error} retry={retry} />;
  if (!run) {
    return (
      <>
        <PartialNotice errors={errors} stale={stale} />
        {!errors.length && <Empty title="Run not found" description="mlmeta does not know this run." />}
      </>
    );
  }
  return (
    <Box>
      <PartialNotice errors={errors} stale={stale} />
      <Box display="flex" alignItems="center" flexWrap="wrap" style={{ gap: 8 }} mb={1}>
        <Typography variant="h6">Run {run.name}</Typography>
        <StatusChip status={run.status} />
        <Typography variant="body2" color="textSecondary">
          started {formatInstant(run.startedAt)}
        </Typography>
      </Box>
      {run.metrics && run.metrics.length > 0 && (
        <Typography variant="body2" gutterBottom>
          Last values: {run.metrics.map(m => `${m.name} ${formatNumber(m.value)}`).join(' · ')}
        </Typography>
      )}
      <Box display="flex" alignItems="center" flexWrap="wrap" style={{ gap: 8 }} my={1}>
        <TextField
          size="small"
          id={`mlmeta-from-step-${executionId}`}
          label="From step"
          type="number"
          value={draft.min}
          onChange={e => setDraft(d => ({ ...d, min: e.target.value }))}
        />
        <TextField
          size="small"
          id={`mlmeta-to-step-${executionId}`}
          label="To step"
          type="number"
          value={draft.max}
          onChange={e => setDraft(d => ({ ...d, max: e.target.value }))}
        />
        <Button
          size="small"
          variant="outlined"
          onClick={() =>
            zoom({
              minStep: draft.min === '' ? undefined : Number(draft.min),
              maxStep: draft.max === '' ? undefined : Number(draft.max),
            })
          }
        >
          Zoom
        </Button>
        <Button
          size="small"
          disabled={range.minStep === undefined && range.maxStep === undefined}
          onClick={() => zoom({})}
        >
          Reset zoom
        </Button>
        <Typography variant="caption" color="textSecondary">
          Drag across a chart to zoom into those steps.
        </Typography>
      </Box>
      {run.metricSeries && !charts.length && (
        <Empty
          title="No series"
          description={
            range.minStep !== undefined || range.maxStep !== undefined
              ? 'No points in this step range.'
              : 'This run reported no per-step metrics.'
          }
        />
      )}
      {charts.length > 0 && (
        <Grid container spacing={2}>
          {charts.map(c => (
            <Grid item xs={12} md={charts.length > 1 ? 6 : 12} key={c.name} data-testid={`series-${c.name}`}>
              <Typography variant="subtitle2">{c.name}</Typography>
              <Typography variant="caption" color="textSecondary" display="block">
                {c.meta.columns.steps.length} of {c.meta.count} points
                {c.meta.downsampled ? ' (downsampled: min and max per bucket)' : ''} · min{' '}
                {formatNumber(c.meta.min)} · max {formatNumber(c.meta.max)} · last {formatNumber(c.meta.last)}
              </Typography>
              <SeriesChart series={c.series} title={c.name} onZoom={zoom} />
            </Grid>
          ))}
        </Grid>
      )}
    </Box>
  );
}
