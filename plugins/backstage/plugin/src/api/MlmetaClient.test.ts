import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PipelinePageDocument } from '../generated/graphql';
import { fixture } from '../__testUtils__/FakeMlmetaApi';
import { MlmetaRequestError } from './MlmetaApi';
import { MlmetaClient, documentText } from './MlmetaClient';

const discoveryApi = { getBaseUrl: async (id: string) => `http://localhost:7007/api/${id}` };

function client(answer: () => Promise<Response>) {
  const fetch = jest.fn((_url: RequestInfo | URL, _init?: RequestInit) => answer());
  return { fetch, client: new MlmetaClient({ discoveryApi, fetchApi: { fetch: fetch as any } }) };
}

const json = (body: unknown, status = 200) =>
  Promise.resolve(new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } }));

describe('MlmetaClient', () => {
  it('posts the operation file, byte for byte, to the proxy endpoint with fetchApi', async () => {
    const { fetch, client: c } = client(() => json(fixture('PipelinePage')));
    const answer = await c.query(PipelinePageDocument, { ref: 'component:default/churn-training-pipeline' });
    expect(answer.data.entity?.pipeline?.name).toBe('churn-training-pipeline');
    const [url, init] = fetch.mock.calls[0];
    expect(url).toBe('http://localhost:7007/api/proxy/mlmeta/graphql');
    const body = JSON.parse(String(init!.body));
    const file = readFileSync(join(__dirname, '..', 'operations', 'PipelinePage.graphql'), 'utf8');
    expect(body.query).toBe(file);
    expect(body.operationName).toBe('PipelinePage');
    expect(body.variables).toEqual({ ref: 'component:default/churn-training-pipeline' });
  });

  it('returns partial data with its errors instead of throwing', async () => {
    const partial = fixture('PipelinePage.partial');
    const { client: c } = client(() => json(partial));
    const answer = await c.query(PipelinePageDocument, { ref: 'x' });
    expect(answer.data.entity?.pipeline?.latestExecution).toBeNull();
    expect(answer.errors[0].extensions).toMatchObject({ source: 'stepfunctions', code: 'UPSTREAM_UNAVAILABLE' });
  });

  it('reports stale sources', async () => {
    const { client: c } = client(() =>
      json({ ...fixture('PipelinePage'), extensions: { stale: [{ source: 'catalog', ageSeconds: 42.5 }] } }),
    );
    expect((await c.query(PipelinePageDocument, { ref: 'x' })).stale).toEqual([{ source: 'catalog', ageSeconds: 42.5 }]);
  });

  it('throws when nothing was executed, keeping the errors and status', async () => {
    const { client: c } = client(() =>
      json({ errors: [{ message: 'Cost 60000 over 50000', extensions: { code: 'QUERY_TOO_COMPLEX' } }] }, 400),
    );
    const error = await c.query(PipelinePageDocument, { ref: 'x' }).catch(e => e);
    expect(error).toBeInstanceOf(MlmetaRequestError);
    expect(error.status).toBe(400);
    expect(error.message).toContain('QUERY_TOO_COMPLEX');
  });

  it('throws on a transport failure or a non-JSON answer', async () => {
    const down = client(() => Promise.reject(new TypeError('Failed to fetch')));
    await expect(down.client.query(PipelinePageDocument, { ref: 'x' })).rejects.toThrow('mlmeta is unreachable');
    const proxy = client(() => Promise.resolve(new Response('Bad Gateway', { status: 502, statusText: 'Bad Gateway' })));
    await expect(proxy.client.query(PipelinePageDocument, { ref: 'x' })).rejects.toThrow('HTTP 502');
  });

  it('derives the websocket URL from the proxy base URL', async () => {
    const { client: c } = client(() => json({}));
    expect(await c.webSocketUrl()).toBe('ws://localhost:7007/api/proxy/mlmeta/graphql');
    const secure = new MlmetaClient({
      discoveryApi: { getBaseUrl: async () => 'https://portal.example.com/api/proxy' },
      fetchApi: { fetch: jest.fn() as any },
    });
    expect(await secure.webSocketUrl()).toBe('wss://portal.example.com/api/proxy/mlmeta/graphql');
  });

  it('sends every operation as its registered text', () => {
    const { name, text } = documentText(PipelinePageDocument);
    expect(name).toBe('PipelinePage');
    expect(text.startsWith('# The ml-pipeline tab')).toBe(true);
  });
});
