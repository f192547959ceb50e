// The mlmeta portal's frontend: Backstage's new frontend system with the catalog, the
// user settings (light/dark theme) and the mlmeta plugin, signed in as a guest.
// Backstage UI's stylesheet: the catalog's pages use its components.
import '@backstage/ui/css/styles.css';
import ReactDOM from 'react-dom/client';
import { createApp } from '@backstage/frontend-defaults';
import { createFrontendModule } from '@backstage/frontend-plugin-api';
import { SignInPageBlueprint } from '@backstage/plugin-app-react';
import { SignInPage } from '@backstage/core-components';
import catalogPlugin from '@backstage/plugin-catalog/alpha';
import userSettingsPlugin from '@backstage/plugin-user-settings/alpha';
import mlmetaPlugin from '@mlmeta/backstage-plugin-mlmeta';

// Guest sign-in through the auth backend's guest provider: a real, signed Backstage
// user token, which the proxy forwards to mlmeta and mlmeta verifies with the JWKS.
const signInPage = SignInPageBlueprint.make({
  params: {
    loader: async () => props => <SignInPage {...props} auto providers={['guest']} />,
  },
});

const app = createApp({
  features: [
    catalogPlugin,
    userSettingsPlugin,
    mlmetaPlugin,
    createFrontendModule({ pluginId: 'app', extensions: [signInPage] }),
  ],
});

ReactDOM.createRoot(document.getElementById('root')!).render(app.createRoot());
