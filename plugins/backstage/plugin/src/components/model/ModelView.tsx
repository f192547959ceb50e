import { InfoCard } from '@backstage/core-components';
import {
  Box,
  Button,
  Chip,
  Grid,
  Radio,
  Table,
  TableBody,
  TableCell,
  TableHead,
  TableRow,
  Typography,
} from '@material-ui/core';
import { useState } from 'react';
import { ModelPageDocument } from '../../generated/graphql';
import { useMlmetaQuery } from '../../hooks/useMlmetaQuery';
import { formatInstant } from '../common/format';
import { Instant } from '../common/Instant';
import { StatusChip } from '../common/StatusChip';
import { Empty, ErrorState, LoadingState, PartialNotice } from '../common/states';
import { LineagePanel } from './LineagePanel';
import { ModelCardPanel } from './ModelCardPanel';

/**
 * An ml-model entity: its versions (approval: who, when, why; the run that trained
 * each; where each is deployed), and for the chosen version its card and lineage.
 */
export function ModelView({ entityRef, pageSize = 20 }: { entityRef: string; pageSize?: number }) {
  const [cursors, setCursors] = useState<Array<string | undefined>>([undefined]);
  const { loading, error, data, errors, stale, retry } = useMlmetaQuery(ModelPageDocument, {
    ref: entityRef,
    first: pageSize,
    after: cursors[cursors.length - 1],
  });
  const [chosen, setChosen] = useState<string | undefined>();
  if (loading && !data) return <LoadingState what="model" />;
  if (error) return <ErrorState what="model" error={error} retry={retry} />;
  const entity = data?.entity;
  const model = entity?.model;
  if (!model) {
    return (
      <>
        <PartialNotice errors={errors} stale={stale} />
        {!errors.length && (
          <Empty
            title={entity ? 'No model linked' : 'Entity unknown to mlmeta'}
            description={
              entity
                ? 'Annotate the entity with mlmeta.io/model-package-group to link its registered model.'
                : `mlmeta's catalog has no entity ${entityRef}, or you may not see it.`
            }
          />
        )}
      </>
    );
  }
  const versions = (model.versions?.edges ?? []).map(e => e.node);
  const selected =
    versions.find(v => v.id === chosen) ?? versions.find(v => v.deployments?.length) ?? versions[0];
  return (
    <Grid container spacing={3}>
      <Grid item xs={12}>
        <PartialNotice errors={errors} stale={stale} />
        <InfoCard title={`Versions of ${model.name}`} subheader={model.description ?? undefined}>
          {model.versions && !versions.length && (
            <Empty title="No versions" description="Nothing is registered in this model package group yet." />
          )}
          {versions.length > 0 && (
            // Scrolls sideways when wider than its card, rather than squeezing "Why".
            <Box style={{ overflowX: 'auto' }} data-testid="versions-scroll">
            <Table size="small" aria-label="Model versions">
              <TableHead>
                <TableRow>
                  <TableCell padding="checkbox" />
                  <TableCell style={{ whiteSpace: 'nowrap' }}>Version</TableCell>
                  <TableCell style={{ whiteSpace: 'nowrap' }}>Status</TableCell>
                  <TableCell style={{ whiteSpace: 'nowrap' }}>Registered</TableCell>
                  <TableCell style={{ whiteSpace: 'nowrap' }}>Decided by</TableCell>
                  <TableCell style={{ whiteSpace: 'nowrap' }}>When</TableCell>
                  <TableCell style={{ minWidth: 220 }}>Why</TableCell>
                  <TableCell style={{ whiteSpace: 'nowrap' }}>Trained by</TableCell>
                  <TableCell style={{ whiteSpace: 'nowrap' }}>Deployments</TableCell>
                </TableRow>
              </TableHead>
              <TableBody>
                {versions.map(v => (
                  <TableRow
                    key={v.id}
                    hover
                    selected={v.id === selected?.id}
                    onClick={() => setChosen(v.id)}
                    data-testid={`version-${v.version}`}
                    style={{ cursor: 'pointer' }}
                  >
                    <TableCell padding="checkbox">
                      <Radio size="small" checked={v.id === selected?.id} inputProps={{ 'aria-label': `version ${v.version}` }} />
                    </TableCell>
                    <TableCell style={{ whiteSpace: 'nowrap' }}>v{v.version}</TableCell>
                    <TableCell>
                      <StatusChip status={v.status} />
                    </TableCell>
                    <TableCell>
                      <Instant value={v.createdAt} />
                    </TableCell>
                    {v.approval === null ? (
                      <TableCell colSpan={3}>
                        <Typography variant="body2" color="textSecondary">
                          approval unavailable
                        </Typography>
                      </TableCell>
                    ) : (
                      <>
                        <TableCell>{v.approval.status === 'PENDING_MANUAL_APPROVAL' ? '—' : v.approval.decidedBy ?? '—'}</TableCell>
                        <TableCell>
                          {v.approval.status === 'PENDING_MANUAL_APPROVAL' ? '—' : <Instant value={v.approval.decidedAt} />}
                        </TableCell>
                        <TableCell style={{ minWidth: 220, maxWidth: 400 }}>{v.approval.description ?? ''}</TableCell>
                      </>
                    )}
                    <TableCell>{v.trainedBy?.name ?? '—'}</TableCell>
                    <TableCell>
                      {v.deployments === null ? (
                        <Typography variant="body2" color="textSecondary">
                          unavailable
                        </Typography>
                      ) : (
                        <Box display="flex" flexWrap="wrap" style={{ gap: 4 }}>
                          {v.deployments.map(d => (
                            <Chip
                              key={d.id}
                              size="small"
                              // On two lines when the table is tight, not cut by the card's edge.
                              style={{ height: 'auto', maxWidth: 180, padding: '2px 0' }}
                              label={
                                <span style={{ whiteSpace: 'normal' }}>
                                  {`${d.name}${d.environment ? ` · ${d.environment}` : ''} · ${d.status}`}
                                </span>
                              }
                              title={d.deployedAt ? `deployed ${formatInstant(d.deployedAt)}` : undefined}
                            />
                          ))}
                        </Box>
                      )}
                    </TableCell>
                  </TableRow>
                ))}
              </TableBody>
            </Table>
            </Box>
          )}
          <Box display="flex" justifyContent="flex-end" mt={1} style={{ gap: 8 }}>
            <Button size="small" disabled={cursors.length < 2} onClick={() => setCursors(c => c.slice(0, -1))}>
              Previous
            </Button>
            <Button
              size="small"
              disabled={!model.versions?.pageInfo.hasNextPage}
              onClick={() => setCursors(c => [...c, model.versions?.pageInfo.endCursor ?? undefined])}
            >
              Next
            </Button>
          </Box>
        </InfoCard>
      </Grid>
      {selected && (
        <>
          <Grid item xs={12}>
            <InfoCard
              title={`Lineage: ${model.name} v${selected.version}`}
              subheader="Where this version came from and where it runs: dataset → run → version → deployment."
            >
              <LineagePanel versionId={selected.id} label={`${model.name}-v${selected.version}`} />
            </InfoCard>
          </Grid>
          <Grid item xs={12}>
            <InfoCard title={`Model card: ${model.name} v${selected.version}`}>
              <ModelCardPanel versionId={selected.id} />
            </InfoCard>
          </Grid>
        </>
      )}
    </Grid>
  );
}
