// Serves the frontend bundle (plugins/backstage/app/dist, built by build.mjs) from the
// backend itself, so the portal is one origin: what @backstage/plugin-app-backend does for
// a full app, in a few lines. The plugin id is `app`: the root router sends every request
// no other plugin claims (`/`, `/catalog/...`) to `/api/app`, which answers with the file
// or, for a page route, index.html with the frontend's config in it.
'use strict';

const fs = require('node:fs');
const path = require('node:path');
const {
  coreServices,
  createBackendPlugin,
} = require('@backstage/backend-plugin-api');

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.ttf': 'font/ttf',
};

// What the browser needs of app-config (Backstage marks these keys `@visibility frontend`).
function frontendConfig(config) {
  return {
    app: {
      title: config.getOptionalString('app.title') ?? 'Backstage',
      baseUrl: config.getString('app.baseUrl'),
    },
    backend: { baseUrl: config.getString('backend.baseUrl') },
    organization: { name: config.getOptionalString('organization.name') ?? 'mlmeta' },
  };
}

function indexHtml(template, config) {
  const injected = JSON.stringify([{ context: 'runtime', data: frontendConfig(config) }])
    .replace(/</g, '\\u003c');
  return template.replace(
    '<!-- app-config -->',
    `<script type="backstage.io/config">${injected}</script>`,
  );
}

const frontendPlugin = createBackendPlugin({
  pluginId: 'app',
  register(env) {
    env.registerInit({
      deps: {
        config: coreServices.rootConfig,
        httpRouter: coreServices.httpRouter,
        logger: coreServices.logger,
      },
      async init({ config, httpRouter, logger }) {
        const dist = path.resolve(
          config.getOptionalString('mlmetaPortal.frontendDist') ??
            path.join(__dirname, '..', 'dist'),
        );
        if (!fs.existsSync(path.join(dist, 'index.html'))) {
          throw new Error(`no frontend bundle at ${dist}: run node build.mjs first`);
        }
        const html = indexHtml(fs.readFileSync(path.join(dist, 'index.html'), 'utf8'), config);
        logger.info(`serving the frontend from ${dist}`);
        httpRouter.addAuthPolicy({ path: '/', allow: 'unauthenticated' });
        httpRouter.use((req, res) => {
          const relative = decodeURIComponent(req.path).replace(/^\/+/, '');
          const file = path.join(dist, relative);
          const isAsset = relative !== '' && file.startsWith(dist + path.sep);
          if (isAsset && fs.existsSync(file) && fs.statSync(file).isFile()) {
            res.setHeader('Content-Type', TYPES[path.extname(file)] ?? 'application/octet-stream');
            res.setHeader('Cache-Control', 'no-cache');
            fs.createReadStream(file).pipe(res);
            return;
          }
          if (relative.startsWith('static/')) {
            res.status(404).end();
            return;
          }
          // A page of the single-page app: index.html, never cached (it holds the config).
          res.setHeader('Content-Type', TYPES['.html']);
          res.setHeader('Cache-Control', 'no-store');
          res.end(html);
        });
      },
    });
  },
});

module.exports = { frontendPlugin };
