/**
 * @jest-environment node
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';

const root = resolve(__dirname, '..', '..');

describe('generated operations', () => {
  it('match schema.graphql and src/operations (run `npm run codegen` when this fails)', () => {
    // In a child process: the codegen CLI is ESM-heavy, and must not be transformed by jest.
    const out = execFileSync(process.execPath, [join(root, 'codegen', 'check.cjs')], {
      cwd: root,
      encoding: 'utf8',
    });
    expect(out).toContain('up to date: persisted-documents.json, src/generated/documents.ts, src/generated/graphql.ts');
  }, 60000);
  it('lists every operation file in the manifest under the sha256 of its exact text', () => {
    const manifest = JSON.parse(readFileSync(join(root, 'persisted-documents.json'), 'utf8'));
    const dir = join(root, 'src', 'operations');
    const files = readdirSync(dir).filter(f => f.endsWith('.graphql'));
    expect(Object.keys(manifest)).toHaveLength(files.length);
    for (const file of files) {
      const text = readFileSync(join(dir, file), 'utf8');
      expect(manifest[createHash('sha256').update(text).digest('hex')]).toBe(text);
    }
  });
});
