// @jsxRuntime automatic
/** Renders the whole dashboard against a test implementation of the contract. */
import './setup-dom.ts';
import { act, render, type RenderResult } from '@testing-library/react';
import { App, type AppProps } from '../../src-renderer/components/App.tsx';
import { DashboardProvider } from '../../src-renderer/state/context.tsx';
import { createDashboardStore, type DashboardStore } from '../../src-renderer/state/dashboard-store.ts';
import type { DashboardApi } from '../../src-renderer/api/dashboard-api.ts';

export interface Rendered extends RenderResult {
  store: DashboardStore;
  stop: () => void;
}

/** In English unless `preferredLanguages` says otherwise (jsdom's navigator says en-US). */
export async function renderDashboard(api: DashboardApi, props: AppProps = {}): Promise<Rendered> {
  const { store, stop } = createDashboardStore(api);
  const result = render(
    <DashboardProvider api={api} store={store}>
      <App {...props} />
    </DashboardProvider>,
  );
  // Let the first load (app.info, status, settings, conflicts) land.
  await act(async () => {
    await new Promise((resolve) => setTimeout(resolve, 0));
  });
  return { ...result, store, stop };
}

/** Runs a state change (an event from the main process) inside act(). */
export async function settle(fn: () => void = () => {}): Promise<void> {
  await act(async () => {
    fn();
    await new Promise((resolve) => setTimeout(resolve, 0));
  });
}
