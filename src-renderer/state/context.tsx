// @jsxRuntime automatic
/** Hands the API and the store to components. */
import { createContext, useContext, useMemo, type ReactNode } from 'react';
import { useStore } from 'zustand';
import type { DashboardApi } from '../api/dashboard-api.ts';
import type { DashboardState, DashboardStore } from './dashboard-store.ts';

interface DashboardContextValue {
  api: DashboardApi;
  store: DashboardStore;
}

const DashboardContext = createContext<DashboardContextValue | null>(null);

export function DashboardProvider(props: { api: DashboardApi; store: DashboardStore; children: ReactNode }) {
  const { api, store } = props;
  const value = useMemo(() => ({ api, store }), [api, store]);
  return <DashboardContext value={value}>{props.children}</DashboardContext>;
}

function useDashboardContext(): DashboardContextValue {
  const value = useContext(DashboardContext);
  if (!value) throw new Error('Dashboard components must be inside <DashboardProvider>');
  return value;
}

export function useApi(): DashboardApi {
  return useDashboardContext().api;
}

export function useDashboard<T>(selector: (state: DashboardState) => T): T {
  return useStore(useDashboardContext().store, selector);
}

/** The store itself, for reading the latest state inside callbacks. */
export function useDashboardStore(): DashboardStore {
  return useDashboardContext().store;
}
