// The mlmeta portal's backend: a real Backstage backend with the catalog, the proxy
// (to mlmeta, forwarding the user's token), guest sign-in, and the frontend bundle.
// Run as: node index.js --config app-config.yaml [--config more.yaml]
// (started by plugins/backstage/app/portal.py; node_modules comes from a cache folder).
'use strict';

const { createBackend } = require('@backstage/backend-defaults');
const { frontendPlugin } = require('./frontend');

const backend = createBackend();
backend.add(import('@backstage/plugin-auth-backend'));
backend.add(import('@backstage/plugin-auth-backend-module-guest-provider'));
backend.add(import('@backstage/plugin-catalog-backend'));
backend.add(import('@backstage/plugin-proxy-backend'));
backend.add(frontendPlugin);
backend.start().catch(err => {
  console.error('mlmeta-portal: backend failed to start', err);
  process.exit(1);
});
