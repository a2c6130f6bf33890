// @jsxRuntime automatic
/** Entry point: pick the API (Electron preload or the web bridge), start the store, render. */
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { z } from 'zod';
import { chooseApi } from './api/choose-api.ts';
import { createDashboardStore } from './state/dashboard-store.ts';
import { DashboardProvider } from './state/context.tsx';
import { App } from './components/App.tsx';

// Strict CSP: zod must not probe for `new Function` (the page allows no eval).
z.config({ jitless: true });

const api = chooseApi(window);
const { store } = createDashboardStore(api);

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <DashboardProvider api={api} store={store}>
      <App />
    </DashboardProvider>
  </StrictMode>,
);
