import {
  Box,
  MenuItem,
  Table,
  TableBody,
  TableCell,
  TableHead,
  TableRow,
  TextField,
  Typography,
} from '@material-ui/core';
import { useMemo, useState } from 'react';
import { CompareRunsDocument } from '../../generated/graphql';
import { useMlmetaQuery } from '../../hooks/useMlmetaQuery';
import { formatInstant, formatNumber } from '../common/format';
import { readRunTable } from '../common/runTable';
import { SeriesChart } from '../common/SeriesChart';
import { Empty, ErrorState, LoadingState, PartialNotice } from '../common/states';
import { StatusChip } from '../common/StatusChip';

export const MIN_COMPARED = 2;
export const MAX_COMPARED = 10;

/**
 * 2 to 10 runs side by side (compareRunsTable): every parameter and metric aligned,
 * rows that differ between runs marked; and one metric's per-step series of each run
 * on one chart.
 */
export function RunComparison({
  executionIds,
  metricNames,
}: {
  executionIds: string[];
  metricNames: string[];
}) {
  const [metric, setMetric] = useState(metricNames.includes('loss') ? 'loss' : metricNames[0] ?? '');
  const enough = executionIds.length >= MIN_COMPARED && executionIds.length <= MAX_COMPARED;
  const { loading, error, data, errors, stale, retry } = useMlmetaQuery(
    CompareRunsDocument,
    { ids: executionIds, series: metric ? [metric] : [], maxPoints: 300 },
    { skip: !enough },
  );
  const rows = useMemo(() => readRunTable(data?.compareRunsTable), [data]);
  const series = useMemo(
    () =>
      (data?.compareRuns ?? []).flatMap(run =>
        run?.metricSeries?.length ? [{ label: run.name, columns: run.metricSeries[0].columns }] : [],
      ),
    [data],
  );
  if (!enough) {
    return (
      <Empty
        title="Select runs to compare"
        description={`Tick ${MIN_COMPARED} to ${MAX_COMPARED} runs in the table (${executionIds.length} selected).`}
      />
    );
  }
  if (loading && !data) return <LoadingState what="run comparison" />;
  if (error) return <ErrorState what="run comparison" error={error} retry={retry} />;
  const parameterNames = [...new Set(rows.flatMap(r => Object.keys(r.parameters)))].sort();
  const metricKeys = [...new Set(rows.flatMap(r => Object.keys(r.metrics)))].sort();
  const differs = (values: unknown[]) => new Set(values.map(v => JSON.stringify(v ?? null))).size > 1;
  const line = (label: string, values: unknown[], kind: string) => (
    <TableRow key={`${kind}-${label}`} data-differs={differs(values) ? 'true' : 'false'}>
      <TableCell component="th" scope="row">
        <Typography variant="body2" style={{ fontWeight: differs(values) ? 600 : 400 }}>
          {label}
        </Typography>
      </TableCell>
      {values.map((v, i) => (
        <TableCell key={i}>{formatNumber(v)}</TableCell>
      ))}
    </TableRow>
  );
  return (
    <Box>
      <PartialNotice errors={errors} stale={stale} />
      {!rows.length && !errors.length && (
        <Empty title="Runs not found" description="mlmeta knows none of these runs." />
      )}
      {rows.length > 0 && (
        <>
          <Table size="small" aria-label="Run comparison">
            <TableHead>
              <TableRow>
                <TableCell />
                {rows.map(r => (
                  <TableCell key={r.id}>
                    <Typography variant="subtitle2">{r.name}</Typography>
                    <StatusChip status={r.status} />
                    <Typography variant="caption" display="block" color="textSecondary">
                      {formatInstant(r.startedAt)}
                    </Typography>
                  </TableCell>
                ))}
              </TableRow>
            </TableHead>
            <TableBody>
              {metricKeys.map(m => line(m, rows.map(r => r.metrics[m]), 'metric'))}
              {parameterNames.map(p => line(p, rows.map(r => r.parameters[p]), 'param'))}
            </TableBody>
          </Table>
          <Box mt={2} display="flex" alignItems="center" style={{ gap: 8 }}>
            <TextField
              select
              size="small"
              label="Series"
              value={metric}
              onChange={e => setMetric(e.target.value as string)}
              style={{ minWidth: 200 }}
            >
              {metricNames.map(m => (
                <MenuItem key={m} value={m}>
                  {m}
                </MenuItem>
              ))}
            </TextField>
            <Typography variant="caption" color="textSecondary">
              {series.length} of {rows.length} runs reported {metric}
            </Typography>
          </Box>
          {series.length > 0 && <SeriesChart series={series} title={metric} />}
        </>
      )}
    </Box>
  );
}
