import { createApiRef } from '@backstage/frontend-plugin-api';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';

/** One GraphQL error as mlmeta sends it (README: "Errors and limits"). */
export interface MlmetaGraphQLError {
  message: string;
  path?: ReadonlyArray<string | number>;
  extensions?: {
    /** 'UPSTREAM_UNAVAILABLE', 'NotFoundError', 'QUERY_TOO_COMPLEX', ... */
    code?: string;
    /** The upstream that failed: 'catalog', 'stepfunctions', 'sagemaker', 'cloudwatch', 'metadb', 'redis'. */
    source?: string;
    /** How many list items the same failure struck (deduplicated errors). */
    count?: number;
    [key: string]: unknown;
  };
}

/**
 * An answer that executed: `data` may be partial, with `errors` naming the sources
 * whose fields are null. Views show what is there and say which source failed.
 */
export interface MlmetaResult<TData> {
  data: TData;
  errors: MlmetaGraphQLError[];
  /** Sources that served stale data (extensions.stale), with the oldest age served. */
  stale: Array<{ source: string; ageSeconds: number }>;
}

/** Handlers of a subscription; `error` is a transport failure (the socket), not a field error. */
export interface MlmetaObserver<TData> {
  next(result: MlmetaResult<TData>): void;
  error(error: Error): void;
  complete(): void;
}

/** The mlmeta GraphQL gateway, reached through the Backstage proxy. */
export interface MlmetaApi {
  /** The URL queries go to (the proxy endpoint), e.g. for an audit bundle's `gateway`. */
  endpoint(): Promise<string>;

  /** Run a query; throws `MlmetaRequestError` only when nothing was executed (no `data`). */
  query<TData, TVariables extends Record<string, unknown>>(
    document: TypedDocumentNode<TData, TVariables>,
    variables: TVariables,
  ): Promise<MlmetaResult<TData>>;

  /** Start a subscription over the proxy's websocket; returns the function that stops it. */
  subscribe<TData, TVariables extends Record<string, unknown>>(
    document: TypedDocumentNode<TData, TVariables>,
    variables: TVariables,
    observer: MlmetaObserver<TData>,
  ): () => void;
}

/** The mlmeta API, provided by the plugin's `ApiBlueprint` extension (or `createApiFactory`). */
export const mlmetaApiRef = createApiRef<MlmetaApi>().with({
  id: 'plugin.mlmeta.api',
  pluginId: 'mlmeta',
});

/** Nothing was executed: transport failure, HTTP error, or an answer without `data`. */
export class MlmetaRequestError extends Error {
  readonly status?: number;
  readonly errors: MlmetaGraphQLError[];

  constructor(message: string, options: { status?: number; errors?: MlmetaGraphQLError[] } = {}) {
    super(message);
    this.name = 'MlmetaRequestError';
    this.status = options.status;
    this.errors = options.errors ?? [];
  }
}
