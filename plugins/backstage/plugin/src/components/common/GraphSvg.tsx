import { useTheme } from '@material-ui/core/styles';
import { layeredLayout } from './layout';

export interface GraphNodeView {
  id: string;
  /** First line, bold. */
  title: string;
  /** Second line. */
  subtitle?: string;
  /** Outline colour (a status). */
  color?: string;
  /** Tooltip. */
  description?: string;
  /** Drawn with a thicker outline (the selected or root node). */
  emphasis?: boolean;
  /** Extra attributes for tests and styling, e.g. data-status. */
  attributes?: Record<string, string>;
}

export interface GraphEdgeView {
  from: string;
  to: string;
  label?: string;
  dashed?: boolean;
}

const w = 170;
const h = 46;
const PAD = 8;
/** Room on the right for the curves of back edges (retry loops) in a top-down graph. */
const LOOP_ROOM = 48;

/**
 * A small directed graph as SVG, coloured from the theme: left to right (`LR`, lineage),
 * or top down (`TB`, long pipelines, so that the page scrolls down rather than sideways).
 */
export function GraphSvg({
  nodes,
  edges,
  label,
  direction = 'LR',
}: {
  nodes: GraphNodeView[];
  edges: GraphEdgeView[];
  label: string;
  direction?: 'LR' | 'TB';
}) {
  const theme = useTheme();
  const down = direction === 'TB';
  // Layers run along x (LR) or y (TB): lay out along x, then swap the axes for TB.
  const along = down
    ? { nodeWidth: h, nodeHeight: w, gapX: 26, gapY: 24 }
    : { nodeWidth: w, nodeHeight: h, gapX: 46, gapY: 16 };
  const raw = layeredLayout(
    nodes.map(n => n.id),
    edges,
    along,
  );
  const layout = {
    ...raw,
    width: down ? raw.height + LOOP_ROOM : raw.width,
    height: down ? raw.width : raw.height,
    nodes: new Map(
      [...raw.nodes].map(([id, p]) => [id, down ? { ...p, x: p.y, y: p.x } : p] as const),
    ),
  };
  const byId = new Map(nodes.map(n => [n.id, n]));
  const labels = new Map(edges.map(e => [`${e.from}\u0000${e.to}`, e]));
  const arrow = `arrow-${label.replace(/\W/g, '')}`;
  return (
    <div style={{ overflowX: 'auto' }}>
      <svg
        role="img"
        aria-label={label}
        data-direction={direction}
        width={layout.width + 2 * PAD}
        height={layout.height + 2 * PAD + 20}
        style={{ fontFamily: theme.typography.fontFamily }}
      >
        <defs>
          <marker id={arrow} viewBox="0 0 10 10" refX="9" refY="5" markerWidth="6" markerHeight="6" orient="auto">
            <path d="M0,0 L10,5 L0,10 z" fill={theme.palette.text.secondary} />
          </marker>
        </defs>
        <g transform={`translate(${PAD},${PAD + 10})`}>
          {layout.edges.map(e => {
            const a = layout.nodes.get(e.from)!;
            const b = layout.nodes.get(e.to)!;
            const view = labels.get(`${e.from}\u0000${e.to}`);
            let d: string;
            if (e.back && down) {
              const y1 = a.y + h / 2;
              const y2 = b.y + h / 2;
              const bend = Math.max(a.x, b.x) + w + LOOP_ROOM - 8;
              d = `M${a.x + w},${y1} C${bend},${y1} ${bend},${y2} ${b.x + w},${y2}`;
            } else if (down) {
              const x1 = a.x + w / 2;
              const x2 = b.x + w / 2;
              const mid = (a.y + h + b.y) / 2;
              d = `M${x1},${a.y + h} C${x1},${mid} ${x2},${mid} ${x2},${b.y}`;
            } else if (e.back) {
              const x1 = a.x + w / 2;
              const x2 = b.x + w / 2;
              d = `M${x1},${a.y} C${x1},${a.y - 30} ${x2},${b.y - 30} ${x2},${b.y}`;
            } else {
              const x1 = a.x + w;
              const y1 = a.y + h / 2;
              const x2 = b.x;
              const y2 = b.y + h / 2;
              const mid = (x1 + x2) / 2;
              d = `M${x1},${y1} C${mid},${y1} ${mid},${y2} ${x2},${y2}`;
            }
            return (
              <g key={`${e.from}->${e.to}`}>
                <path
                  d={d}
                  fill="none"
                  stroke={theme.palette.text.secondary}
                  strokeOpacity={0.6}
                  strokeDasharray={e.back || view?.dashed ? '4 3' : undefined}
                  markerEnd={`url(#${arrow})`}
                />
                {view?.label && !e.back && !down && (
                  <text
                    x={(a.x + w + b.x) / 2}
                    y={(a.y + b.y + h) / 2 - 4}
                    fontSize={9}
                    textAnchor="middle"
                    fill={theme.palette.text.secondary}
                  >
                    {view.label}
                  </text>
                )}
              </g>
            );
          })}
          {[...layout.nodes.values()].map(p => {
            const n = byId.get(p.id)!;
            return (
              <g
                key={p.id}
                transform={`translate(${p.x},${p.y})`}
                data-testid={`node-${n.title}`}
                aria-label={`${n.title}${n.subtitle ? `: ${n.subtitle}` : ''}`}
                {...n.attributes}
              >
                <title>{n.description ?? `${n.title}${n.subtitle ? ` — ${n.subtitle}` : ''}`}</title>
                <rect
                  width={w}
                  height={h}
                  rx={6}
                  fill={theme.palette.background.paper}
                  stroke={n.color ?? theme.palette.divider}
                  strokeWidth={n.emphasis ? 3 : 2}
                />
                <rect width={6} height={h} rx={3} fill={n.color ?? theme.palette.divider} />
                <text x={14} y={19} fontSize={12} fontWeight={600} fill={theme.palette.text.primary}>
                  {truncate(n.title, 22)}
                </text>
                {n.subtitle && (
                  <text x={14} y={36} fontSize={11} fill={theme.palette.text.secondary}>
                    {truncate(n.subtitle, 26)}
                  </text>
                )}
              </g>
            );
          })}
        </g>
      </svg>
    </div>
  );
}

function truncate(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}
