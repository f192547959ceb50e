import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import {
  MlmetaRequestError,
  type MlmetaApi,
  type MlmetaObserver,
  type MlmetaResult,
  documentText,
} from '../api';

/** What a fake answers for one operation: a recorded answer, an error, or never. */
export type FakeAnswer =
  | { data: unknown; errors?: unknown[] }
  | Error
  | 'pending'
  | ((variables: Record<string, unknown>) => { data: unknown; errors?: unknown[] } | Error | 'pending');

/** A stand-in for mlmeta: answers each operation (by name) from recorded fixtures. */
export class FakeMlmetaApi implements MlmetaApi {
  readonly calls: Array<{ operation: string; variables: Record<string, unknown> }> = [];
  readonly subscriptions: Array<{
    operation: string;
    variables: Record<string, unknown>;
    observer: MlmetaObserver<any>;
    stopped: boolean;
  }> = [];

  constructor(private readonly answers: Record<string, FakeAnswer>) {}

  async endpoint() {
    return 'http://localhost:7007/api/proxy/mlmeta/graphql';
  }

  set(operation: string, answer: FakeAnswer) {
    this.answers[operation] = answer;
  }

  callsOf(operation: string) {
    return this.calls.filter(c => c.operation === operation).map(c => c.variables);
  }

  query<TData, TVariables extends Record<string, unknown>>(
    document: TypedDocumentNode<TData, TVariables>,
    variables: TVariables,
  ): Promise<MlmetaResult<TData>> {
    const operation = documentText(document).name!;
    this.calls.push({ operation, variables });
    let answer = this.answers[operation];
    if (typeof answer === 'function') answer = answer(variables);
    if (answer === undefined) return Promise.reject(new MlmetaRequestError(`no fixture for ${operation}`));
    if (answer === 'pending') return new Promise(() => {});
    if (answer instanceof Error) return Promise.reject(answer);
    return Promise.resolve({
      data: JSON.parse(JSON.stringify(answer.data)) as TData,
      errors: (answer.errors ?? []) as MlmetaResult<TData>['errors'],
      stale: [],
    });
  }

  subscribe<TData, TVariables extends Record<string, unknown>>(
    document: TypedDocumentNode<TData, TVariables>,
    variables: TVariables,
    observer: MlmetaObserver<TData>,
  ): () => void {
    const entry = { operation: documentText(document).name!, variables, observer, stopped: false };
    this.subscriptions.push(entry);
    return () => {
      entry.stopped = true;
    };
  }

  /** The newest subscription still open. */
  live() {
    return [...this.subscriptions].reverse().find(s => !s.stopped);
  }
}

/** A recorded answer by file name (src/__fixtures__/<name>.json). */
export function fixture(name: string): { data: any; errors?: any[] } {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return JSON.parse(JSON.stringify(require(`../__fixtures__/${name}.json`)));
}
