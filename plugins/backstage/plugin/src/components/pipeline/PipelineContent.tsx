import { InfoCard } from '@backstage/core-components';
import { Button, Grid, Link, Typography } from '@material-ui/core';
import { useState } from 'react';
import { PipelinePageDocument } from '../../generated/graphql';
import { useLiveExecution } from '../../hooks/useLiveExecution';
import { useMlmetaQuery } from '../../hooks/useMlmetaQuery';
import { Empty, ErrorState, LoadingState, PartialNotice } from '../common/states';
import { MetricEvolutionChart } from './MetricEvolutionChart';
import { MAX_COMPARED, RunComparison } from './RunComparison';
import { RunsTable } from './RunsTable';
import { RunView } from './RunView';
import { StepGraph } from './StepGraph';

/** Metrics shown as columns of the runs table, when the pipeline reports them. */
const TABLE_METRICS = ['roc_auc', 'pr_auc', 'accuracy', 'f1', 'loss'];

type Pipeline = NonNullable<NonNullable<import('../../generated/graphql').PipelinePageQuery['entity']>['pipeline']>;

function LiveSteps({ entityRef, pipeline, pollIntervalMs }: { entityRef: string; pipeline: Pipeline; pollIntervalMs?: number }) {
  const live = useLiveExecution({
    entityRef,
    pipelineId: pipeline.id,
    initial: pipeline.latestExecution,
    pollIntervalMs,
  });
  return (
    <>
      <PartialNotice errors={live.errors} />
      <StepGraph graph={pipeline.graph} execution={live.execution} mode={live.mode} />
    </>
  );
}

/** Everything mlmeta knows about one ml-pipeline entity. */
export function MlmetaPipelineView({ entityRef, pollIntervalMs }: { entityRef: string; pollIntervalMs?: number }) {
  const { loading, error, data, errors, stale, retry } = useMlmetaQuery(PipelinePageDocument, { ref: entityRef });
  const [selected, setSelected] = useState<string[]>([]);
  const [opened, setOpened] = useState<string | undefined>();
  if (loading && !data) return <LoadingState what="pipeline" />;
  if (error) return <ErrorState what="pipeline" error={error} retry={retry} />;
  const entity = data?.entity;
  const pipeline = entity?.pipeline;
  if (!pipeline) {
    return (
      <>
        <PartialNotice errors={errors} stale={stale} />
        {!errors.length && (
          <Empty
            title={entity ? 'No pipeline linked' : 'Entity unknown to mlmeta'}
            description={
              entity
                ? 'Annotate the entity with mlmeta.io/step-functions-arn or mlmeta.io/sagemaker-pipeline to link its pipeline.'
                : `mlmeta's catalog has no entity ${entityRef}, or you may not see it.`
            }
          />
        )}
      </>
    );
  }
  const metricNames = pipeline.metricNames ?? [];
  const tableMetrics = TABLE_METRICS.filter(m => metricNames.includes(m)).slice(0, 3);
  const toggle = (id: string) =>
    setSelected(s => {
      if (s.includes(id)) return s.filter(x => x !== id);
      return s.length < MAX_COMPARED ? [...s, id] : s;
    });
  return (
    <Grid container spacing={3}>
      <Grid item xs={12}>
        <PartialNotice errors={errors} stale={stale} />
      </Grid>
      <Grid item xs={12}>
        <InfoCard
          title="Steps"
          subheader={
            <Typography variant="body2" color="textSecondary">
              {pipeline.name} · {pipeline.orchestrator.replace(/_/g, ' ').toLowerCase()}
              {pipeline.consoleUrl && (
                <>
                  {' · '}
                  <Link href={pipeline.consoleUrl} target="_blank" rel="noopener">
                    console
                  </Link>
                </>
              )}
            </Typography>
          }
        >
          <LiveSteps entityRef={entityRef} pipeline={pipeline} pollIntervalMs={pollIntervalMs} />
        </InfoCard>
      </Grid>
      <Grid item xs={12}>
        <InfoCard title="Runs" subheader="Tick runs to compare them (2 to 10); click a run to see its series.">
          <RunsTable
            entityRef={entityRef}
            metrics={tableMetrics}
            selected={selected}
            onToggle={toggle}
            onOpen={setOpened}
          />
        </InfoCard>
      </Grid>
      <Grid item xs={12}>
        <InfoCard title="Metric evolution" subheader="The final value of each metric, run after run.">
          <MetricEvolutionChart entityRef={entityRef} metrics={metricNames} />
        </InfoCard>
      </Grid>
      {opened && (
        <Grid item xs={12}>
          <InfoCard
            title="Run"
            action={
              <Button size="small" onClick={() => setOpened(undefined)}>
                Close
              </Button>
            }
          >
            <RunView executionId={opened} />
          </InfoCard>
        </Grid>
      )}
      {selected.length > 0 && (
        <Grid item xs={12}>
          <InfoCard
            title={`Compare runs (${selected.length})`}
            action={
              <Button size="small" onClick={() => setSelected([])}>
                Clear
              </Button>
            }
          >
            <RunComparison executionIds={selected} metricNames={metricNames} />
          </InfoCard>
        </Grid>
      )}
    </Grid>
  );
}
