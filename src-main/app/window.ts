/**
 * The dashboard window and the app-wide web hardening: pages come only from
 * the `app://tillsync` protocol (the built dashboard, served with the strict
 * CSP), every navigation and new window is refused, webviews cannot attach,
 * and no page gets any permission (camera, notifications, ...).
 */
import { join } from 'node:path';
import { readFile } from 'node:fs/promises';
import { app, BrowserWindow, protocol, session } from 'electron';
import { contentSecurityPolicy, SECURITY_HEADERS } from './csp.ts';
import { contentTypeOf, resolveStaticFile } from './static-files.ts';
import { APP_HOST, APP_SCHEME, DASHBOARD_URL, isAppUrl } from './window-options.ts';

/** Must run before the app is ready. */
export function registerAppScheme(): void {
  protocol.registerSchemesAsPrivileged([{ scheme: APP_SCHEME, privileges: { standard: true, secure: true, supportFetchAPI: true } }]);
}

/** Serves the built dashboard on app://tillsync/ with the CSP; anything else is 404. */
export function serveDashboard(rendererDir: string): void {
  const headers = { ...SECURITY_HEADERS, 'Content-Security-Policy': contentSecurityPolicy() };
  protocol.handle(APP_SCHEME, async (request) => {
    const url = new URL(request.url);
    const path = url.host === APP_HOST ? await resolveStaticFile(rendererDir, url.pathname) : null;
    if (path === null) return new Response('Not found', { status: 404, headers });
    return new Response(await readFile(path), { status: 200, headers: { ...headers, 'Content-Type': contentTypeOf(path) } });
  });
}

/** For every web page the app ever creates: no navigation away, no new windows, no webviews, no permissions. */
export function hardenWebContents(): void {
  session.defaultSession.setPermissionRequestHandler((_contents, _permission, callback) => callback(false));
  session.defaultSession.setPermissionCheckHandler(() => false);
  app.on('web-contents-created', (_event, contents) => {
    contents.setWindowOpenHandler(() => ({ action: 'deny' }));
    contents.on('will-navigate', (event) => event.preventDefault());
    contents.on('will-redirect', (event) => event.preventDefault());
    contents.on('will-attach-webview', (event) => event.preventDefault());
  });
}

export interface DashboardWindow {
  show(): void;
  readonly window: BrowserWindow | null;
  /** Lets the window really close (on quit); until then closing hides it to the tray. */
  allowClose(): void;
}

export function createDashboardWindow(options: { preloadPath: string; icon?: string }): DashboardWindow {
  let win: BrowserWindow | null = null;
  let closing = false;
  const open = (): BrowserWindow => {
    // Written out here (not built elsewhere) so Electronegativity can check every setting.
    const created = new BrowserWindow({
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
        preload: options.preloadPath,
        contextIsolation: true,
        sandbox: true,
        nodeIntegration: false,
        nodeIntegrationInWorker: false,
        nodeIntegrationInSubFrames: false,
        webSecurity: true,
        allowRunningInsecureContent: false,
        experimentalFeatures: false,
        enableBlinkFeatures: '',
        disableBlinkFeatures: 'Auxclick',
        webviewTag: false,
        navigateOnDragDrop: false,
        safeDialogs: true,
        spellcheck: false,
        devTools: !app.isPackaged,
      },
    });
    created.on('close', (event) => {
      if (closing) return;
      event.preventDefault(); // closing the window keeps the app running in the tray
      created.hide();
    });
    created.on('closed', () => {
      win = null;
    });
    created.once('ready-to-show', () => created.show());
    void created.loadURL(DASHBOARD_URL);
    return created;
  };
  return {
    show() {
      if (!win) win = open();
      else {
        if (win.isMinimized()) win.restore();
        win.show();
        win.focus();
      }
    },
    get window() {
      return win;
    },
    allowClose() {
      closing = true;
    },
  };
}

/** True when an IPC message comes from the app's own dashboard window and page. */
export function isOwnSender(dashboard: DashboardWindow, sender: Electron.WebContents, frameUrl: string | undefined): boolean {
  const win = dashboard.window;
  return win !== null && BrowserWindow.fromWebContents(sender) === win && frameUrl !== undefined && isAppUrl(frameUrl);
}

export function preloadPathNextTo(mainDir: string): string {
  return join(mainDir, 'preload.cjs');
}
