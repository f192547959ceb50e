import { useApi } from '@backstage/frontend-plugin-api';
import { useCallback, useEffect, useRef, useState } from 'react';
import { mlmetaApiRef, type MlmetaGraphQLError } from '../api';
import {
  ExecutionUpdatedDocument,
  LatestExecutionDocument,
  type PipelinePageQuery,
} from '../generated/graphql';

export type LiveExecution = NonNullable<
  NonNullable<NonNullable<PipelinePageQuery['entity']>['pipeline']>['latestExecution']
>;

/** How the step states are kept current. */
export type LiveMode = 'websocket' | 'polling' | 'idle';

export interface LiveOptions {
  entityRef: string;
  pipelineId: string;
  initial: LiveExecution | null;
  /** While a run is going and the websocket failed. */
  pollIntervalMs?: number;
  /** While no run is going: how often to look for a new one. */
  idleIntervalMs?: number;
}

const ACTIVE = new Set(['RUNNING', 'PENDING']);

/**
 * The pipeline's newest run, kept current: over the `executionUpdated` subscription
 * (the proxy's websocket) while a run is going, by polling `LatestExecution` when the
 * socket fails, and by a slow poll for the next run when none is going. The
 * subscription completes when its run ends; the newest run is then read again.
 */
export function useLiveExecution({
  entityRef,
  pipelineId,
  initial,
  pollIntervalMs = 5000,
  idleIntervalMs = 30000,
}: LiveOptions) {
  const api = useApi(mlmetaApiRef);
  const [execution, setExecution] = useState<LiveExecution | null>(initial);
  const [errors, setErrors] = useState<MlmetaGraphQLError[]>([]);
  const [socketError, setSocketError] = useState<Error | undefined>();
  const [generation, setGeneration] = useState(0);
  const [updates, setUpdates] = useState(0);
  const mounted = useRef(true);
  useEffect(() => {
    mounted.current = true;
    return () => {
      mounted.current = false;
    };
  }, []);
  useEffect(() => setExecution(initial), [initial]);

  const active = !!execution && ACTIVE.has(execution.status);
  let mode: LiveMode = 'idle';
  if (active) mode = socketError ? 'polling' : 'websocket';

  const refresh = useCallback(async () => {
    try {
      const answer = await api.query(LatestExecutionDocument, { ref: entityRef });
      if (!mounted.current) return undefined;
      const latest = answer.data.entity?.pipeline?.latestExecution ?? null;
      setErrors(answer.errors);
      if (latest) setExecution(latest);
      return latest;
    } catch {
      return undefined; // keep what is shown; the next poll tries again
    }
  }, [api, entityRef]);

  useEffect(() => {
    if (!active || socketError) return undefined;
    const stop = api.subscribe(
      ExecutionUpdatedDocument,
      { pipelineId },
      {
        next: answer => {
          const update = answer.data?.executionUpdated;
          setErrors(answer.errors);
          if (update) {
            setExecution(update);
            setUpdates(n => n + 1);
          }
        },
        error: err => setSocketError(err),
        complete: () => {
          // The run ended: read the newest run (another may have started).
          refresh().then(latest => {
            if (latest && ACTIVE.has(latest.status)) setGeneration(g => g + 1);
          });
        },
      },
    );
    return stop;
  }, [api, pipelineId, active, socketError, execution?.id, generation, refresh]);

  useEffect(() => {
    if (mode === 'websocket') return undefined;
    const timer = setInterval(refresh, mode === 'polling' ? pollIntervalMs : idleIntervalMs);
    return () => clearInterval(timer);
  }, [mode, refresh, pollIntervalMs, idleIntervalMs]);

  return { execution, mode, errors, socketError, updates };
}
