/**
 * The dashboard window's settings, pure so a test can check the hardening
 * without Electron: an isolated, sandboxed renderer with no Node.js, no
 * webviews, no insecure content, sized for a 1024×768 till screen.
 */
import type { BrowserWindowConstructorOptions } from 'electron';

/** The dashboard's own origin in the desktop app (a custom protocol, not file://). */
export const APP_SCHEME = 'app';
export const APP_HOST = 'tillsync';
export const APP_ORIGIN = `${APP_SCHEME}://${APP_HOST}`;
export const DASHBOARD_URL = `${APP_ORIGIN}/index.html`;

export function dashboardWindowOptions(preloadPath: string, options: { devTools: boolean; icon?: string }): BrowserWindowConstructorOptions {
  return {
    width: 1024,
    height: 768,
    minWidth: 800,
    minHeight: 600,
    show: false,
    title: 'TillSync',
    autoHideMenuBar: true,
    backgroundColor: '#ffffff',
    ...(options.icon ? { icon: options.icon } : {}),
    webPreferences: {
      preload: preloadPath,
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      nodeIntegrationInSubFrames: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      experimentalFeatures: false,
      webviewTag: false,
      navigateOnDragDrop: false,
      safeDialogs: true,
      spellcheck: false,
      devTools: options.devTools,
    },
  };
}

/** True for URLs of the app's own pages (the only ones its IPC answers). */
export function isAppUrl(url: string): boolean {
  try {
    const parsed = new URL(url);
    return parsed.protocol === `${APP_SCHEME}:` && parsed.host === APP_HOST;
  } catch {
    return false;
  }
}
