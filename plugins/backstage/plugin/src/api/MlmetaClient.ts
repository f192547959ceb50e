import type { DiscoveryApi, FetchApi, IdentityApi } from '@backstage/frontend-plugin-api';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { print, type OperationDefinitionNode } from 'graphql';
import { createClient, type Client } from 'graphql-ws';
import { operationDocuments } from '../generated/documents';
import {
  MlmetaRequestError,
  type MlmetaApi,
  type MlmetaGraphQLError,
  type MlmetaObserver,
  type MlmetaResult,
} from './MlmetaApi';

/** The proxy endpoint that forwards to mlmeta (`proxy.endpoints./mlmeta` in app-config). */
export const DEFAULT_PROXY_PATH = '/mlmeta';

export interface MlmetaClientOptions {
  discoveryApi: DiscoveryApi;
  /** Adds the user's Backstage token; the proxy forwards it to mlmeta (`credentials: forward`). */
  fetchApi: FetchApi;
  /** Its token goes in the websocket's `connection_init` payload (browsers cannot set headers there). */
  identityApi?: IdentityApi;
  proxyPath?: string;
  /** For tests; defaults to the browser's WebSocket. */
  webSocketImpl?: unknown;
}

interface WireAnswer {
  data?: unknown;
  errors?: MlmetaGraphQLError[];
  extensions?: { stale?: Array<{ source: string; ageSeconds: number }> };
}

/** The operation's name, and the exact text to send: its operation file, byte for byte. */
export function documentText(document: TypedDocumentNode<any, any>): { name?: string; text: string } {
  const operation = document.definitions.find(
    (d): d is OperationDefinitionNode => d.kind === 'OperationDefinition',
  );
  const name = operation?.name?.value;
  // A registered (trusted) document runs only when sent as registered, so prefer the
  // file's own text over a re-printed AST.
  const registered = name ? operationDocuments[name] : undefined;
  return { name, text: registered ? registered.text : print(document) };
}

function result<TData>(answer: WireAnswer): MlmetaResult<TData> {
  return {
    data: answer.data as TData,
    errors: answer.errors ?? [],
    stale: answer.extensions?.stale ?? [],
  };
}

function describe(errors: MlmetaGraphQLError[] | undefined): string | undefined {
  if (!errors?.length) return undefined;
  return errors
    .map(e => {
      const code = e.extensions?.code;
      const source = e.extensions?.source;
      return [e.message, code && `(${code}${source ? `, source: ${source}` : ''})`]
        .filter(Boolean)
        .join(' ');
    })
    .join('; ');
}

/** Reaches mlmeta's `/graphql` through the Backstage proxy, over HTTP and websockets. */
export class MlmetaClient implements MlmetaApi {
  private readonly discoveryApi: DiscoveryApi;
  private readonly fetchApi: FetchApi;
  private readonly identityApi?: IdentityApi;
  private readonly proxyPath: string;
  private readonly webSocketImpl?: unknown;
  private socket?: Promise<Client>;

  constructor(options: MlmetaClientOptions) {
    this.discoveryApi = options.discoveryApi;
    this.fetchApi = options.fetchApi;
    this.identityApi = options.identityApi;
    this.proxyPath = options.proxyPath ?? DEFAULT_PROXY_PATH;
    this.webSocketImpl = options.webSocketImpl;
  }

  /** `<proxy base>/mlmeta/graphql`, e.g. http://localhost:7007/api/proxy/mlmeta/graphql. */
  async endpoint(): Promise<string> {
    const base = await this.discoveryApi.getBaseUrl('proxy');
    return `${base.replace(/\/$/, '')}${this.proxyPath}/graphql`;
  }

  /** The same endpoint as a websocket URL (the proxy endpoint needs `ws: true`). */
  async webSocketUrl(): Promise<string> {
    const url = new URL(await this.endpoint(), globalThis.location?.href);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    return url.toString();
  }

  async query<TData, TVariables extends Record<string, unknown>>(
    document: TypedDocumentNode<TData, TVariables>,
    variables: TVariables,
  ): Promise<MlmetaResult<TData>> {
    const { name, text } = documentText(document);
    const url = await this.endpoint();
    let response: Response;
    try {
      response = await this.fetchApi.fetch(url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/graphql-response+json, application/json;q=0.9',
        },
        body: JSON.stringify({ query: text, variables, operationName: name }),
      });
    } catch (e) {
      throw new MlmetaRequestError(`mlmeta is unreachable: ${(e as Error).message}`);
    }
    let answer: WireAnswer | undefined;
    try {
      answer = (await response.json()) as WireAnswer;
    } catch {
      answer = undefined;
    }
    if (!answer || answer.data === undefined || answer.data === null) {
      const detail = describe(answer?.errors) ?? `HTTP ${response.status} ${response.statusText}`.trim();
      throw new MlmetaRequestError(`mlmeta answered no data: ${detail}`, {
        status: response.status,
        errors: answer?.errors,
      });
    }
    return result<TData>(answer);
  }

  subscribe<TData, TVariables extends Record<string, unknown>>(
    document: TypedDocumentNode<TData, TVariables>,
    variables: TVariables,
    observer: MlmetaObserver<TData>,
  ): () => void {
    const { name, text } = documentText(document);
    let stop: (() => void) | undefined;
    let stopped = false;
    this.connect()
      .then(client => {
        if (stopped) return;
        stop = client.subscribe<TData>(
          { query: text, variables, operationName: name },
          {
            next: answer => observer.next(result<TData>(answer as WireAnswer)),
            // graphql-ws hands over a CloseEvent, an Event or GraphQL errors: make it an Error.
            error: err => {
              observer.error(
                err instanceof Error
                  ? err
                  : new MlmetaRequestError(
                      Array.isArray(err)
                        ? `subscription refused: ${describe(err as MlmetaGraphQLError[])}`
                        : `websocket closed${(err as { code?: number })?.code ? ` (${(err as { code: number }).code})` : ''}`,
                      { errors: Array.isArray(err) ? (err as MlmetaGraphQLError[]) : undefined },
                    ),
              );
            },
            complete: () => observer.complete(),
          },
        );
      })
      .catch(err => observer.error(err as Error));
    return () => {
      stopped = true;
      stop?.();
    };
  }

  private connect(): Promise<Client> {
    if (!this.socket) {
      this.socket = this.webSocketUrl().then(url =>
        createClient({
          url,
          lazy: true,
          lazyCloseTimeout: 1000,
          retryAttempts: 0, // the views fall back to polling instead
          webSocketImpl: this.webSocketImpl,
          connectionParams: async () => {
            const token = (await this.identityApi?.getCredentials())?.token;
            return token ? { Authorization: `Bearer ${token}` } : {};
          },
          on: {
            // A closed socket is made again by the next subscribe.
            closed: () => {
              this.socket = undefined;
            },
          },
        }),
      );
    }
    return this.socket;
  }
}
