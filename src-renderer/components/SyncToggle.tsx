// @jsxRuntime automatic
/** Pause or resume sync for this till. */
import { useState } from 'react';
import { useApi, useDashboard } from '../state/context.tsx';

export function SyncToggle() {
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
      <h2 id="toggle-title">Sync</h2>
      <p data-testid="toggle-state">
        {enabled
          ? 'Sync is on: changes go to the hub and come back from it as they happen.'
          : 'Sync is paused: changes are kept on this till until you resume.'}
      </p>
      <button type="button" className="primary" onClick={() => void toggle()} disabled={busy}>
        {enabled ? 'Pause sync' : 'Resume sync'}
      </button>
      {error && (
        <p className="field-error" role="alert">
          {error}
        </p>
      )}
    </section>
  );
}
