/**
 * A layered left-to-right layout for small directed graphs (a pipeline's steps, a
 * lineage walk): back edges of cycles are found by DFS and drawn apart, every other
 * node goes one layer right of its furthest predecessor, and rows follow the order
 * of predecessors (one barycentre pass), which is enough for graphs of tens of nodes.
 */
export interface LayoutEdge {
  from: string;
  to: string;
  /** Closes a cycle (a retry loop): drawn as a curve back. */
  back: boolean;
}

export interface LayoutNode {
  id: string;
  layer: number;
  row: number;
  x: number;
  y: number;
}

export interface Layout {
  nodes: Map<string, LayoutNode>;
  edges: LayoutEdge[];
  width: number;
  height: number;
}

export function layeredLayout(
  ids: ReadonlyArray<string>,
  edges: ReadonlyArray<{ from: string; to: string }>,
  size: { nodeWidth: number; nodeHeight: number; gapX: number; gapY: number },
): Layout {
  const known = new Set(ids);
  const kept = edges.filter(e => known.has(e.from) && known.has(e.to) && e.from !== e.to);
  const out = new Map<string, string[]>(ids.map(id => [id, []]));
  const incoming = new Map<string, number>(ids.map(id => [id, 0]));
  for (const e of kept) {
    out.get(e.from)!.push(e.to);
    incoming.set(e.to, incoming.get(e.to)! + 1);
  }
  // DFS from the roots (then from anything left) to find back edges.
  const state = new Map<string, 'open' | 'done'>();
  const back = new Set<string>();
  const visit = (id: string) => {
    state.set(id, 'open');
    for (const next of out.get(id)!) {
      const s = state.get(next);
      if (s === 'open') back.add(`${id}\u0000${next}`);
      else if (!s) visit(next);
    }
    state.set(id, 'done');
  };
  for (const id of ids) if (incoming.get(id) === 0 && !state.has(id)) visit(id);
  for (const id of ids) if (!state.has(id)) visit(id);

  const forward = kept.filter(e => !back.has(`${e.from}\u0000${e.to}`));
  const preds = new Map<string, string[]>(ids.map(id => [id, []]));
  const indegree = new Map<string, number>(ids.map(id => [id, 0]));
  for (const e of forward) {
    preds.get(e.to)!.push(e.from);
    indegree.set(e.to, indegree.get(e.to)! + 1);
  }
  const layer = new Map<string, number>();
  const queue = ids.filter(id => indegree.get(id) === 0);
  const succ = new Map<string, string[]>(ids.map(id => [id, []]));
  for (const e of forward) succ.get(e.from)!.push(e.to);
  for (const id of queue) layer.set(id, 0);
  while (queue.length) {
    const id = queue.shift()!;
    for (const next of succ.get(id)!) {
      layer.set(next, Math.max(layer.get(next) ?? 0, layer.get(id)! + 1));
      indegree.set(next, indegree.get(next)! - 1);
      if (indegree.get(next) === 0) queue.push(next);
    }
  }
  const layers: string[][] = [];
  for (const id of ids) {
    const l = layer.get(id) ?? 0;
    (layers[l] ??= []).push(id);
  }
  const row = new Map<string, number>();
  layers.forEach(members => {
    const weight = (id: string) => {
      const p = preds.get(id)!.filter(x => row.has(x));
      return p.length ? p.reduce((sum, x) => sum + row.get(x)!, 0) / p.length : Infinity;
    };
    const ordered = [...members].sort((a, b) => {
      const wa = weight(a);
      const wb = weight(b);
      return wa === wb ? ids.indexOf(a) - ids.indexOf(b) : wa - wb;
    });
    ordered.forEach((id, i) => row.set(id, i));
  });
  const { nodeWidth, nodeHeight, gapX, gapY } = size;
  const nodes = new Map<string, LayoutNode>();
  for (const id of ids) {
    const l = layer.get(id) ?? 0;
    const r = row.get(id) ?? 0;
    nodes.set(id, { id, layer: l, row: r, x: l * (nodeWidth + gapX), y: r * (nodeHeight + gapY) });
  }
  const rows = Math.max(1, ...layers.map(m => m?.length ?? 0));
  return {
    nodes,
    edges: kept.map(e => ({ ...e, back: back.has(`${e.from}\u0000${e.to}`) })),
    width: Math.max(1, layers.length) * (nodeWidth + gapX) - gapX,
    height: rows * (nodeHeight + gapY) - gapY,
  };
}
