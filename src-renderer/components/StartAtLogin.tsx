// @jsxRuntime automatic
/** Whether TillSync starts when the till is switched on. */
import { useState } from 'react';
import { useApi, useDashboard } from '../state/context.tsx';

export function StartAtLogin() {
  const api = useApi();
  const enabled = useDashboard((s) => s.settings?.startAtLogin ?? null);
  const setSettings = useDashboard((s) => s.setSettings);
  const [error, setError] = useState<string | null>(null);
  if (enabled === null) return null;

  async function change(next: boolean) {
    setError(null);
    const result = await api.invoke('settings.setStartAtLogin', { enabled: next });
    if (result.ok) setSettings(result.value);
    else setError(result.error.message);
  }

  return (
    <section className="panel" aria-labelledby="login-title">
      <h2 id="login-title">Start-up</h2>
      <label className="inline-field">
        <input type="checkbox" checked={enabled} onChange={(event) => void change(event.target.checked)} />
        Start TillSync when the till is switched on
      </label>
      {error && (
        <p className="field-error" role="alert">
          {error}
        </p>
      )}
    </section>
  );
}
