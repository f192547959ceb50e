import { useTheme } from '@material-ui/core/styles';
import { useEffect, useRef } from 'react';
import UPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { SERIES_COLORS } from '../pipeline/MetricEvolutionChart';

export interface ColumnsSeries {
  label: string;
  /** The SeriesColumns scalar as mlmeta sends it: fed to uPlot as is. */
  columns: { steps: number[]; values: number[] };
}

/**
 * Per-step series drawn with uPlot from mlmeta's columnar form: `[steps, values]` is
 * uPlot's own data layout, so the arrays go in untouched (several series are aligned
 * on their steps with `uPlot.join`). Dragging across the chart zooms: `onZoom` gets the
 * step range, for the caller to ask mlmeta again with minStep/maxStep.
 */
export function SeriesChart({
  series,
  height = 260,
  title,
  onZoom,
}: {
  series: ColumnsSeries[];
  height?: number;
  title?: string;
  onZoom?: (range: { minStep: number; maxStep: number }) => void;
}) {
  const theme = useTheme();
  const target = useRef<HTMLDivElement>(null);
  const zoom = useRef(onZoom);
  zoom.current = onZoom;

  useEffect(() => {
    const el = target.current;
    if (!el || !series.length) return undefined;
    const data =
      series.length === 1
        ? ([series[0].columns.steps, series[0].columns.values] as UPlot.AlignedData)
        : UPlot.join(series.map(s => [s.columns.steps, s.columns.values] as UPlot.AlignedData));
    const axis = {
      stroke: theme.palette.text.secondary,
      grid: { stroke: theme.palette.divider, width: 1 },
      ticks: { stroke: theme.palette.divider, width: 1 },
    };
    const plot = new UPlot(
      {
        title,
        width: Math.max(320, el.clientWidth || 800),
        height,
        scales: { x: { time: false } },
        axes: [{ ...axis, label: 'step' }, axis],
        cursor: { drag: { x: true, y: false, setScale: false } },
        series: [
          { label: 'step' },
          ...series.map((s, i) => ({
            label: s.label,
            stroke: SERIES_COLORS[i % SERIES_COLORS.length],
            width: 1.5,
            spanGaps: true,
          })),
        ],
        hooks: {
          setSelect: [
            (u: UPlot) => {
              if (u.select.width > 0) {
                const minStep = Math.floor(u.posToVal(u.select.left, 'x'));
                const maxStep = Math.ceil(u.posToVal(u.select.left + u.select.width, 'x'));
                zoom.current?.({ minStep, maxStep });
              }
            },
          ],
        },
      },
      data,
      el,
    );
    const resize = () => plot.setSize({ width: Math.max(320, el.clientWidth || 800), height });
    window.addEventListener('resize', resize);
    return () => {
      window.removeEventListener('resize', resize);
      plot.destroy();
    };
  }, [series, height, title, theme]);

  return (
    <div
      ref={target}
      role="img"
      aria-label={`${title ?? 'series'}: ${series.map(s => `${s.label} (${s.columns.steps.length} points)`).join(', ')}`}
      style={{ color: theme.palette.text.primary }}
    />
  );
}
