import { Box, Chip, Typography } from '@material-ui/core';
import { useTheme } from '@material-ui/core/styles';
import { useMemo, useState } from 'react';
import {
  CartesianGrid,
  Legend,
  Line,
  LineChart,
  ResponsiveContainer,
  Tooltip,
  XAxis,
  YAxis,
} from 'recharts';
import { MetricEvolutionDocument } from '../../generated/graphql';
import { useMlmetaQuery } from '../../hooks/useMlmetaQuery';
import { formatInstant, formatNumber } from '../common/format';
import { Empty, ErrorState, LoadingState, PartialNotice } from '../common/states';

/** Colours that read on light and dark backgrounds. */
export const SERIES_COLORS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#17becf', '#bcbd22', '#7f7f7f'];

export interface EvolutionRow {
  runId: string;
  run: string;
  status?: string;
  startedAt: string;
  [metric: string]: string | number | null | undefined;
}

/** One row per run (oldest first), one column per metric: what the line chart takes. */
export function evolutionRows(
  evolution: ReadonlyArray<{
    metric: string;
    points: ReadonlyArray<{
      startedAt: string;
      value: number | null;
      execution: { id: string; name: string; status: string } | null;
    }>;
  }>,
): EvolutionRow[] {
  const rows = new Map<string, EvolutionRow>();
  for (const series of evolution) {
    for (const p of series.points) {
      const key = p.execution?.id ?? p.startedAt;
      const row =
        rows.get(key) ??
        ({ runId: key, run: p.execution?.name ?? formatInstant(p.startedAt), status: p.execution?.status, startedAt: p.startedAt } as EvolutionRow);
      row[series.metric] = p.value;
      rows.set(key, row);
    }
  }
  return [...rows.values()].sort((a, b) => a.startedAt.localeCompare(b.startedAt));
}

/** Metrics shown first: those on a 0..1 scale (AUC, accuracy...) when there are any. */
function defaultShown(rows: EvolutionRow[], metrics: string[]): string[] {
  const unit = metrics.filter(m =>
    rows.every(r => r[m] === null || r[m] === undefined || (Number(r[m]) >= 0 && Number(r[m]) <= 1)),
  );
  return unit.length ? unit : metrics;
}

/** The tooltip: which run a point is, when it ran, each metric's value. */
export function EvolutionTooltip({
  active,
  payload,
}: {
  active?: boolean;
  payload?: ReadonlyArray<{ name?: string | number; value?: unknown; color?: string; payload?: EvolutionRow }>;
}) {
  const theme = useTheme();
  if (!active || !payload?.length) return null;
  const row = payload[0].payload!;
  return (
    <Box p={1} style={{ background: theme.palette.background.paper, border: `1px solid ${theme.palette.divider}` }}>
      <Typography variant="subtitle2">run {row.run}</Typography>
      <Typography variant="caption" color="textSecondary" display="block">
        {formatInstant(row.startedAt)} {row.status ? `· ${row.status.toLowerCase()}` : ''}
      </Typography>
      {payload.map(p => (
        <Typography key={String(p.name)} variant="body2" style={{ color: p.color }}>
          {p.name}: {formatNumber(p.value)}
        </Typography>
      ))}
    </Box>
  );
}

/** How each metric's final value evolved across the pipeline's last runs. */
export function MetricEvolutionChart({
  entityRef,
  metrics,
  lastRuns = 50,
}: {
  entityRef: string;
  metrics: string[];
  lastRuns?: number;
}) {
  const theme = useTheme();
  const wanted = metrics.slice(0, 10);
  const { loading, error, data, errors, stale, retry } = useMlmetaQuery(
    MetricEvolutionDocument,
    { ref: entityRef, metrics: wanted, lastRuns },
    { skip: !wanted.length },
  );
  const evolution = data?.entity?.pipeline?.metricEvolution;
  const rows = useMemo(() => evolutionRows(evolution ?? []), [evolution]);
  const available = (evolution ?? []).map(e => e.metric);
  const [chosen, setChosen] = useState<string[] | undefined>();
  const shown = chosen ?? defaultShown(rows, available);
  if (!wanted.length) {
    return <Empty title="No metrics" description="No run of this pipeline has reported a metric yet." />;
  }
  if (loading && !data) return <LoadingState what="metric evolution" />;
  if (error) return <ErrorState what="metric evolution" error={error} retry={retry} />;
  return (
    <Box>
      <PartialNotice errors={errors} stale={stale} />
      {evolution && !rows.length && (
        <Empty title="No runs with metrics" description="None of the last runs reported these metrics." />
      )}
      {rows.length > 0 && (
        <>
          <Box display="flex" flexWrap="wrap" mb={1} style={{ gap: 6 }} aria-label="Metrics shown">
            {available.map((m, i) => (
              <Chip
                key={m}
                size="small"
                label={m}
                clickable
                variant={shown.includes(m) ? 'default' : 'outlined'}
                style={shown.includes(m) ? { background: SERIES_COLORS[i % 10], color: '#fff' } : undefined}
                aria-pressed={shown.includes(m)}
                onClick={() =>
                  setChosen(shown.includes(m) ? shown.filter(x => x !== m) : [...shown, m])
                }
              />
            ))}
          </Box>
          <Typography variant="caption" color="textSecondary">
            {rows.length} {rows.length === 1 ? 'run' : 'runs'}, oldest first; hover a point to see its run.
          </Typography>
          <ResponsiveContainer width="100%" height={320} initialDimension={{ width: 800, height: 320 }}>
            <LineChart data={rows} margin={{ top: 10, right: 20, bottom: 10, left: 0 }}>
              <CartesianGrid stroke={theme.palette.divider} strokeDasharray="3 3" />
              <XAxis dataKey="run" stroke={theme.palette.text.secondary} tick={{ fontSize: 11 }} />
              <YAxis stroke={theme.palette.text.secondary} tick={{ fontSize: 11 }} domain={['auto', 'auto']} />
              <Tooltip content={<EvolutionTooltip />} />
              <Legend />
              {available.map((m, i) =>
                shown.includes(m) ? (
                  <Line
                    key={m}
                    type="monotone"
                    dataKey={m}
                    name={m}
                    stroke={SERIES_COLORS[i % 10]}
                    dot
                    connectNulls
                    isAnimationActive={false}
                  />
                ) : null,
              )}
            </LineChart>
          </ResponsiveContainer>
        </>
      )}
    </Box>
  );
}
