import { Chip } from '@material-ui/core';
import { useTheme } from '@material-ui/core/styles';

type Tone = 'ok' | 'running' | 'error' | 'warning' | 'pending' | 'aborted';

const TONE: Record<string, Tone> = {
  SUCCEEDED: 'ok',
  APPROVED: 'ok',
  InService: 'ok',
  RUNNING: 'running',
  PENDING: 'pending',
  PENDING_MANUAL_APPROVAL: 'pending',
  PENDING_REVIEW: 'pending',
  DRAFT: 'pending',
  FAILED: 'error',
  REJECTED: 'error',
  TIMED_OUT: 'warning',
  ABORTED: 'aborted',
  ARCHIVED: 'aborted',
};

/** The theme's colour for a run, step, approval or card status (light and dark themes). */
export function useStatusColor(): (status: string | null | undefined) => string {
  const theme = useTheme();
  const palette = (theme.palette as unknown as { status?: Record<string, string> }).status ?? {};
  const colors: Record<Tone, string> = {
    ok: palette.ok ?? theme.palette.success?.main ?? '#1db954',
    running: palette.running ?? theme.palette.info?.main ?? '#2e77d0',
    error: palette.error ?? theme.palette.error.main,
    warning: palette.warning ?? theme.palette.warning?.main ?? '#ff9800',
    pending: palette.pending ?? theme.palette.text.disabled,
    aborted: palette.aborted ?? theme.palette.text.secondary,
  };
  return status => (status && TONE[status] ? colors[TONE[status]] : theme.palette.text.disabled);
}

export function StatusChip({ status }: { status: string | null | undefined }) {
  const color = useStatusColor();
  const label = status ? status.replace(/_/g, ' ').toLowerCase() : 'unknown';
  return (
    <Chip
      size="small"
      label={label}
      variant="outlined"
      style={{ borderColor: color(status), color: color(status) }}
      data-status={status ?? 'unknown'}
    />
  );
}
