/* eslint-disable no-console */
// Exits 1 when src/generated or persisted-documents.json differ from what
// `npm run codegen` would write now (from ../../../schema.graphql and src/operations).
// Run by `npm run codegen:check` and by src/generated/generated.test.ts.
const { generate, loadCodegenConfig } = require('@graphql-codegen/cli');
const { readFileSync, existsSync } = require('node:fs');
const { join, resolve } = require('node:path');

const root = resolve(__dirname, '..');

(async () => {
  process.chdir(root);
  const { config } = await loadCodegenConfig({ configFilePath: join(root, 'codegen.ts') });
  const outputs = await generate({ ...config, silent: true, cwd: root }, false);
  const stale = outputs
    .filter(o => !existsSync(join(root, o.filename)) || readFileSync(join(root, o.filename), 'utf8') !== o.content)
    .map(o => o.filename);
  if (stale.length) {
    console.error(`stale (run \`npm run codegen\`): ${stale.join(', ')}`);
    process.exit(1);
  }
  console.log(`up to date: ${outputs.map(o => o.filename).sort().join(', ')}`);
})().catch(e => {
  console.error(e);
  process.exit(2);
});
