// @jsxRuntime automatic
/** Pause or resume sync for this till. The button keeps focus while the request runs. */
import { useState } from 'react';
import { useApi, useDashboard } from '../state/context.tsx';
import { useWords } from '../i18n/language.tsx';
import { ActionButton } from './ActionButton.tsx';

export function SyncToggle() {
  const w = useWords();
  const api = useApi();
  const enabled = useDashboard((s) => s.settings?.enabled ?? null);
  const setSettings = useDashboard((s) => s.setSettings);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  if (enabled === null) return null;

  async function toggle() {
    setBusy(true);
    setError(null);
    const result = await api.invoke('settings.setEnabled', { enabled: !enabled });
    setBusy(false);
    if (result.ok) setSettings(result.value);
    else setError(result.error.message);
  }

  return (
    <section className="panel" aria-labelledby="toggle-title">
      <h2 id="toggle-title">{w.t('toggle.title')}</h2>
      <p data-testid="toggle-state">{w.t(enabled ? 'toggle.on' : 'toggle.off')}</p>
      <ActionButton className="primary" onClick={() => void toggle()} busy={busy}>
        {w.t(enabled ? 'toggle.pause' : 'toggle.resume')}
      </ActionButton>
      {error && (
        <p className="field-error" role="alert">
          {error}
        </p>
      )}
    </section>
  );
}
