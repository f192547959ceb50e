/** The RunTable scalar (aligned columns, README "Metrics"), read into rows. */
export interface RunTableColumns {
  id: string[];
  name: string[];
  status: string[];
  startedAt: number[];
  stoppedAt: Array<number | null>;
  parameters: Record<string, unknown[]>;
  metrics: Record<string, Array<number | null>>;
  metricSteps?: Record<string, Array<number | null>>;
}

export interface RunRow {
  id: string;
  name: string;
  status: string;
  startedAt: number;
  stoppedAt: number | null;
  parameters: Record<string, unknown>;
  metrics: Record<string, number | null>;
}

export function readRunTable(table: unknown): RunRow[] {
  if (!table || typeof table !== 'object') return [];
  const t = table as Partial<RunTableColumns>;
  const ids = t.id ?? [];
  return ids.map((id, i) => ({
    id,
    name: t.name?.[i] ?? id,
    status: t.status?.[i] ?? 'PENDING',
    startedAt: t.startedAt?.[i] ?? 0,
    stoppedAt: t.stoppedAt?.[i] ?? null,
    parameters: Object.fromEntries(
      Object.entries(t.parameters ?? {}).map(([k, v]) => [k, v[i] ?? null]),
    ),
    metrics: Object.fromEntries(Object.entries(t.metrics ?? {}).map(([k, v]) => [k, v[i] ?? null])),
  }));
}
