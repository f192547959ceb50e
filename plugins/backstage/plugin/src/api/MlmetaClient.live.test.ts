/**
 * @jest-environment node
 */
// Against a running gateway (skipped unless MLMETA_TEST_URL is set), e.g.
//   mlmeta serve --demo --port 8123 &  MLMETA_TEST_URL=http://127.0.0.1:8123 npm test
// Queries over HTTP and the executionUpdated subscription over graphql-transport-ws,
// with the documents exactly as the plugin sends them.
import { ExecutionUpdatedDocument, PipelinePageDocument } from '../generated/graphql';
import { MlmetaClient } from './MlmetaClient';

const url = process.env.MLMETA_TEST_URL;
const maybe = url ? describe : describe.skip;

maybe('MlmetaClient against a live mlmeta demo', () => {
  const client = new MlmetaClient({
    discoveryApi: { getBaseUrl: async () => url! },
    fetchApi: { fetch: (input, init) => fetch(input, init) },
    proxyPath: '',
  });

  it('reads a pipeline and follows its newest run live', async () => {
    const page = await client.query(PipelinePageDocument, { ref: 'component:default/churn-training-staging' });
    expect(page.errors).toEqual([]);
    const pipeline = page.data.entity!.pipeline!;
    const first = await new Promise<any>((resolve, reject) => {
      const stop = client.subscribe(ExecutionUpdatedDocument, { pipelineId: pipeline.id }, {
        next: answer => {
          stop();
          resolve(answer);
        },
        error: reject,
        complete: () => reject(new Error('completed without an update')),
      });
    });
    expect(first.errors).toEqual([]);
    expect(first.data.executionUpdated.name).toMatch(/^live-/);
  }, 60000);
});
