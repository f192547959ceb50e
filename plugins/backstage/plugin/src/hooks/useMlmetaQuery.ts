import { useApi } from '@backstage/frontend-plugin-api';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { useCallback, useEffect, useRef, useState } from 'react';
import { mlmetaApiRef, type MlmetaGraphQLError, type MlmetaResult } from '../api';

export interface QueryState<TData> {
  loading: boolean;
  /** Nothing executed (transport, HTTP, no data). */
  error?: Error;
  data?: TData;
  /** Field errors of a partial answer: name their sources with `failedSources`. */
  errors: MlmetaGraphQLError[];
  stale: MlmetaResult<TData>['stale'];
  /** Ask again (keeps showing the previous data while loading). */
  retry: () => void;
}

/** Runs `document` with `variables` (again when they change); `skip` runs nothing. */
export function useMlmetaQuery<TData, TVariables extends Record<string, unknown>>(
  document: TypedDocumentNode<TData, TVariables>,
  variables: TVariables,
  options: { skip?: boolean } = {},
): QueryState<TData> {
  const api = useApi(mlmetaApiRef);
  const key = JSON.stringify(variables);
  const [attempt, setAttempt] = useState(0);
  const [state, setState] = useState<Omit<QueryState<TData>, 'retry'>>({
    loading: !options.skip,
    errors: [],
    stale: [],
  });
  const variablesRef = useRef(variables);
  variablesRef.current = variables;

  useEffect(() => {
    if (options.skip) {
      setState({ loading: false, errors: [], stale: [] });
      return undefined;
    }
    let current = true;
    setState(previous => ({ ...previous, loading: true, error: undefined }));
    api.query(document, variablesRef.current).then(
      answer => {
        if (current) {
          setState({ loading: false, data: answer.data, errors: answer.errors, stale: answer.stale });
        }
      },
      error => {
        if (current) setState({ loading: false, error: error as Error, errors: [], stale: [] });
      },
    );
    return () => {
      current = false;
    };
  }, [api, document, key, attempt, options.skip]);

  const retry = useCallback(() => setAttempt(n => n + 1), []);
  return { ...state, retry };
}
