// @jsxRuntime automatic
/** The fleet page: every till, worst first, read from the fleet server's /api/fleet. */
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import '../src-renderer/styles.css';
import './fleet.css';
import { FleetApp } from './components/FleetApp.tsx';

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <FleetApp />
  </StrictMode>,
);
