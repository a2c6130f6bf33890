/**
 * The tray icon: its image and tooltip follow the sync state and lag (see
 * tray-model.ts); its menu opens the dashboard, pauses or resumes sync, and
 * quits. It speaks the language chosen in the dashboard's settings, else the
 * system's.
 */
import { join } from 'node:path';
import { app, Menu, nativeImage, Tray, type NativeImage } from 'electron';
import type { SyncStatus } from '../../src-shared/status.ts';
import { pickLanguage, type Language } from '../../src-shared/languages.ts';
import type { AppBackend } from './backend.ts';
import { trayModel, type TrayIconName, type TrayModel } from './tray-model.ts';

export interface TrayOptions {
  backend: AppBackend;
  /** The folder holding `<state>.png` (and `@2x`) tray images. */
  iconsDir: string;
  openDashboard: () => void;
  quit: () => void;
  onError: (err: unknown) => void;
}

export function setupTray(options: TrayOptions): { destroy(): void } {
  const images = new Map<TrayIconName, NativeImage>();
  const image = (name: TrayIconName): NativeImage => {
    let found = images.get(name);
    if (!found) images.set(name, (found = nativeImage.createFromPath(join(options.iconsDir, `${name}.png`))));
    return found;
  };
  const modelOf = (status: SyncStatus): TrayModel => {
    const settings = options.backend.settings();
    return trayModel({
      state: status.state,
      enabled: settings.enabled,
      lagMs: maxLag(status),
      pending: status.outbox.depth,
      language: settings.language ?? systemLanguage(),
    });
  };

  let shown = modelOf(options.backend.status());
  const tray = new Tray(image(shown.icon));
  tray.setToolTip(shown.tooltip);
  tray.on('click', options.openDashboard);

  const buildMenu = (model: TrayModel): Menu =>
    Menu.buildFromTemplate([
      { label: model.openLabel, click: options.openDashboard },
      {
        label: model.toggleLabel,
        click: () => {
          options.backend.setEnabled(!options.backend.settings().enabled).catch(options.onError);
        },
      },
      { type: 'separator' },
      { label: model.quitLabel, click: options.quit },
    ]);
  tray.setContextMenu(buildMenu(shown));

  const update = (): void => {
    const next = modelOf(options.backend.status());
    if (next.icon !== shown.icon) tray.setImage(image(next.icon));
    if (next.tooltip !== shown.tooltip) tray.setToolTip(next.tooltip);
    if (next.toggleLabel !== shown.toggleLabel || next.openLabel !== shown.openLabel) tray.setContextMenu(buildMenu(next));
    shown = next;
  };
  const offs = [options.backend.on('status', update), options.backend.on('settings', update)];
  return {
    destroy() {
      for (const off of offs) off();
      tray.destroy();
    },
  };
}

/** The till's own language (the system's preferred languages), when the settings name none. */
function systemLanguage(): Language {
  const preferred = app.getPreferredSystemLanguages();
  return pickLanguage(preferred.length > 0 ? preferred : [app.getLocale()]);
}

function maxLag(status: SyncStatus): number | null {
  const values = [status.lag.push.lastMs, status.lag.pull.lastMs].filter((v): v is number => v !== null);
  return values.length === 0 ? null : Math.max(...values);
}
