import { EmptyState, ErrorPanel } from '@backstage/core-components';
import { Box, Button, LinearProgress, Typography } from '@material-ui/core';
import { Alert } from '@material-ui/lab';
import type { MlmetaGraphQLError, MlmetaResult } from '../../api';
import { MlmetaRequestError } from '../../api';
import { failedSources } from '../../hooks/errors';

/** Shown while a view's first answer is on its way. */
export function LoadingState({ what }: { what: string }) {
  return (
    <Box role="status" aria-live="polite" py={2}>
      <Typography variant="body2" color="textSecondary">
        Loading {what}…
      </Typography>
      <LinearProgress />
    </Box>
  );
}

/** Nothing came back at all: the request failed (mlmeta or the proxy unreachable, refused, ...). */
export function ErrorState({
  what,
  error,
  retry,
}: {
  what: string;
  error: Error;
  retry?: () => void;
}) {
  const sources =
    error instanceof MlmetaRequestError
      ? failedSources(error.errors).map(s => s.source)
      : [];
  return (
    <Box>
      <ErrorPanel
        title={`Could not load ${what}${sources.length ? ` (failing: ${sources.join(', ')})` : ''}`}
        error={error}
      />
      {retry && (
        <Box mt={1}>
          <Button variant="outlined" size="small" onClick={retry}>
            Retry
          </Button>
        </Box>
      )}
    </Box>
  );
}

/** There is nothing to show, and that is an answer, not a failure. */
export function Empty({ title, description }: { title: string; description?: string }) {
  return <EmptyState missing="data" title={title} description={description} />;
}

/**
 * Partial data: names each failing source (extensions.source), its code and which
 * fields it left out; and sources that served stale data.
 */
export function PartialNotice({
  errors,
  stale = [],
}: {
  errors: ReadonlyArray<MlmetaGraphQLError>;
  stale?: MlmetaResult<unknown>['stale'];
}) {
  const failed = failedSources(errors);
  if (!failed.length && !stale.length) return null;
  return (
    <Box mb={2}>
      {failed.map(f => (
        <Alert severity="warning" key={f.source} data-testid={`partial-${f.source}`}>
          <strong>Partial data: {f.source} failed</strong>
          {f.code ? ` (${f.code})` : ''}: {f.message}
          {f.fields.length ? ` — missing: ${f.fields.map(x => x.split('.').pop()).join(', ')}` : ''}
          {f.count > 1 ? ` (${f.count} items)` : ''}
        </Alert>
      ))}
      {stale.map(s => (
        <Alert severity="info" key={`stale-${s.source}`}>
          {s.source} could not be read just now: showing data {Math.round(s.ageSeconds)} s old.
        </Alert>
      ))}
    </Box>
  );
}
