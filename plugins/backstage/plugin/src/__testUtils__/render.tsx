import { renderInTestApp } from '@backstage/frontend-test-utils';
import { act } from '@testing-library/react';
import { type ReactElement } from 'react';
import { mlmetaApiRef } from '../api';
import { FakeMlmetaApi, type FakeAnswer } from './FakeMlmetaApi';

/**
 * Render a view inside a test app whose mlmeta API answers from `answers`. The first
 * answers (already resolved promises) are applied inside `act`, as React wants.
 */
export async function renderWithMlmeta(element: ReactElement, answers: Record<string, FakeAnswer>) {
  const api = new FakeMlmetaApi(answers);
  let result: ReturnType<typeof renderInTestApp> | undefined;
  await act(async () => {
    result = renderInTestApp(element, { apis: [[mlmetaApiRef, api]] as const });
  });
  return { api, ...result! };
}
