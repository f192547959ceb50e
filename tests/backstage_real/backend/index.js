// A minimal real Backstage backend with only the catalog plugin.
// Run as: node index.js --config app-config.yaml
// (started by tests/backstage_real/harness.py from a cache folder holding node_modules).
'use strict';

const { createBackend } = require('@backstage/backend-defaults');

const backend = createBackend();
backend.add(import('@backstage/plugin-catalog-backend'));
backend.start().catch(err => {
  console.error('mlmeta-tests: backend failed to start', err);
  process.exit(1);
});
