/**
 * The tray icon: its image and tooltip follow the sync state and lag (see
 * tray-model.ts); its menu opens the dashboard, pauses or resumes sync, and
 * quits.
 */
import { join } from 'node:path';
import { Menu, nativeImage, Tray, type NativeImage } from 'electron';
import type { SyncStatus } from '../../src-shared/status.ts';
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
  const modelOf = (status: SyncStatus): TrayModel =>
    trayModel({
      state: status.state,
      enabled: options.backend.settings().enabled,
      lagMs: maxLag(status),
      pending: status.outbox.depth,
    });

  let shown = modelOf(options.backend.status());
  const tray = new Tray(image(shown.icon));
  tray.setToolTip(shown.tooltip);
  tray.on('click', options.openDashboard);

  const buildMenu = (model: TrayModel): Menu =>
    Menu.buildFromTemplate([
      { label: 'Open dashboard', click: options.openDashboard },
      {
        label: model.toggleLabel,
        click: () => {
          options.backend.setEnabled(!options.backend.settings().enabled).catch(options.onError);
        },
      },
      { type: 'separator' },
      { label: 'Quit TillSync', click: options.quit },
    ]);
  tray.setContextMenu(buildMenu(shown));

  const update = (): void => {
    const next = modelOf(options.backend.status());
    if (next.icon !== shown.icon) tray.setImage(image(next.icon));
    if (next.tooltip !== shown.tooltip) tray.setToolTip(next.tooltip);
    if (next.toggleLabel !== shown.toggleLabel) tray.setContextMenu(buildMenu(next));
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

function maxLag(status: SyncStatus): number | null {
  const values = [status.lag.push.lastMs, status.lag.pull.lastMs].filter((v): v is number => v !== null);
  return values.length === 0 ? null : Math.max(...values);
}
