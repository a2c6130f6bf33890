/**
 * The dashboard's own origin in the desktop app (a custom protocol, not
 * file://), and how to recognise it; free of Electron so tests can use it.
 */
export const APP_SCHEME = 'app';
export const APP_HOST = 'tillsync';
export const APP_ORIGIN = `${APP_SCHEME}://${APP_HOST}`;
export const DASHBOARD_URL = `${APP_ORIGIN}/index.html`;

/** True for URLs of the app's own pages (the only ones its IPC answers). */
export function isAppUrl(url: string): boolean {
  try {
    const parsed = new URL(url);
    return parsed.protocol === `${APP_SCHEME}:` && parsed.host === APP_HOST;
  } catch {
    return false;
  }
}
