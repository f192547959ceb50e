import type { MlmetaGraphQLError } from '../api';

/** One failing upstream and what it made null. */
export interface FailedSource {
  source: string;
  code?: string;
  message: string;
  /** Dotted field paths (list indices as *), e.g. 'entity.pipeline.latestExecution.steps'. */
  fields: string[];
  count: number;
}

function fieldOf(path: ReadonlyArray<string | number> | undefined): string | undefined {
  return path?.map(p => (typeof p === 'number' ? '*' : p)).join('.');
}

/**
 * The sources named by a partial answer's errors (`extensions.source`), one entry each;
 * errors without a source (not found, bad input) are grouped under their code.
 */
export function failedSources(errors: ReadonlyArray<MlmetaGraphQLError>): FailedSource[] {
  const bySource = new Map<string, FailedSource>();
  for (const error of errors) {
    const source = error.extensions?.source ?? error.extensions?.code ?? 'mlmeta';
    const entry = bySource.get(source) ?? {
      source,
      code: error.extensions?.code,
      message: error.message,
      fields: [],
      count: 0,
    };
    const field = fieldOf(error.path);
    if (field && !entry.fields.includes(field)) entry.fields.push(field);
    entry.count += error.extensions?.count ?? 1;
    bySource.set(source, entry);
  }
  return [...bySource.values()];
}
