import { MarkdownContent } from '@backstage/core-components';
import { Box, Chip, Table, TableBody, TableCell, TableHead, TableRow, Typography } from '@material-ui/core';
import { ModelCardDocument } from '../../generated/graphql';
import { useMlmetaQuery } from '../../hooks/useMlmetaQuery';
import { formatInstant } from '../common/format';
import { StatusChip } from '../common/StatusChip';
import { Empty, ErrorState, LoadingState, PartialNotice } from '../common/states';

/** A version's card in force: its Markdown, the sections still empty, every revision. */
export function ModelCardPanel({ versionId }: { versionId: string }) {
  const { loading, error, data, errors, stale, retry } = useMlmetaQuery(ModelCardDocument, { id: versionId });
  if (loading && !data) return <LoadingState what="model card" />;
  if (error) return <ErrorState what="model card" error={error} retry={retry} />;
  const node = data?.node;
  const card = node && 'card' in node ? node.card : null;
  return (
    <Box>
      <PartialNotice errors={errors} stale={stale} />
      {!card && !errors.length && <Empty title="No model card" description="No card, and none could be pre-filled." />}
      {card && (
        <>
          <Box display="flex" alignItems="center" flexWrap="wrap" style={{ gap: 8 }} mb={1}>
            <Typography variant="subtitle2">
              {card.saved ? `Revision ${card.revision}` : 'Draft pre-filled by mlmeta (not saved)'} · {card.source}
            </Typography>
            <StatusChip status={card.status} />
            <Typography variant="body2" color="textSecondary">
              updated {formatInstant(card.updatedAt)}
              {card.updatedBy ? ` by ${card.updatedBy}` : ''}
            </Typography>
          </Box>
          <Box display="flex" alignItems="center" flexWrap="wrap" style={{ gap: 6 }} mb={2} data-testid="completeness">
            {card.completeness.length === 0 ? (
              <Chip size="small" label="complete: every section filled" />
            ) : (
              <>
                <Typography variant="body2">Still empty:</Typography>
                {card.completeness.map(section => (
                  <Chip key={section} size="small" variant="outlined" label={section} />
                ))}
              </>
            )}
          </Box>
          <MarkdownContent content={card.markdown} />
          <Typography variant="subtitle2" style={{ marginTop: 16 }}>
            Revisions
          </Typography>
          {card.history === null ? (
            <Typography variant="body2" color="textSecondary">
              history unavailable
            </Typography>
          ) : (
            <Table size="small" aria-label="Card revisions">
              <TableHead>
                <TableRow>
                  <TableCell>Revision</TableCell>
                  <TableCell>Status</TableCell>
                  <TableCell>Updated</TableCell>
                  <TableCell>By</TableCell>
                  <TableCell>Source</TableCell>
                </TableRow>
              </TableHead>
              <TableBody>
                {card.history.map(h => (
                  <TableRow key={`${h.source}-${h.revision}`} selected={h.revision === card.revision && h.source === card.source}>
                    <TableCell>{h.revision}</TableCell>
                    <TableCell>
                      <StatusChip status={h.status} />
                    </TableCell>
                    <TableCell>{formatInstant(h.updatedAt)}</TableCell>
                    <TableCell>{h.updatedBy ?? '—'}</TableCell>
                    <TableCell>{h.source}</TableCell>
                  </TableRow>
                ))}
              </TableBody>
            </Table>
          )}
        </>
      )}
    </Box>
  );
}
