// @jsxRuntime automatic
/** Whether TillSync starts when the till is switched on. */
import { useState } from 'react';
import { useApi, useDashboard } from '../state/context.tsx';
import { useWords } from '../i18n/language.tsx';

export function StartAtLogin() {
  const w = useWords();
  const api = useApi();
  const enabled = useDashboard((s) => s.settings?.startAtLogin ?? null);
  const setSettings = useDashboard((s) => s.setSettings);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  if (enabled === null) return null;

  async function change(next: boolean) {
    if (busy) return;
    setBusy(true);
    setError(null);
    const result = await api.invoke('settings.setStartAtLogin', { enabled: next });
    setBusy(false);
    if (result.ok) setSettings(result.value);
    else setError(result.error.message);
  }

  return (
    <section className="panel" aria-labelledby="login-title">
      <h2 id="login-title">{w.t('login.title')}</h2>
      {/* The whole label is the touch target; the box stays enabled (and focused) while the change is saved. */}
      <label className="check-field">
        <input type="checkbox" checked={enabled} aria-busy={busy || undefined} onChange={(event) => void change(event.target.checked)} />
        {w.t('login.label')}
      </label>
      {error && (
        <p className="field-error" role="alert">
          {error}
        </p>
      )}
    </section>
  );
}
