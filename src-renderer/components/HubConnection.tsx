// @jsxRuntime automatic
/**
 * The hub connection string: the saved one (password hidden), a field to enter
 * a new one (checked with the contract's own schema before it is sent), a
 * connection test, and Save.
 */
import { useId, useState, type FormEvent } from 'react';
import { commandInputs } from '../../src-shared/ipc.ts';
import { useApi, useDashboard } from '../state/context.tsx';

type Outcome = { ok: boolean; message: string } | null;

/** The contract's validation message for a hub connection string, as a sentence; null when valid. */
export function hubUriProblem(uri: string): string | null {
  const parsed = commandInputs['settings.setHubUri'].safeParse({ uri });
  if (parsed.success) return null;
  const message = parsed.error.issues[0]?.message ?? 'this is not a valid hub connection string';
  return sentence(message);
}

function sentence(text: string): string {
  const trimmed = text.trim();
  const capital = trimmed.charAt(0).toUpperCase() + trimmed.slice(1);
  return /[.!?]$/.test(capital) ? capital : `${capital}.`;
}

export function HubConnection() {
  const api = useApi();
  const masked = useDashboard((s) => s.settings?.hubUriMasked ?? null);
  const setSettings = useDashboard((s) => s.setSettings);
  const inputId = useId();
  const errorId = useId();
  const [uri, setUri] = useState('');
  const [show, setShow] = useState(false);
  const [problem, setProblem] = useState<string | null>(null);
  const [checked, setChecked] = useState(false);
  const [busy, setBusy] = useState<'test' | 'save' | null>(null);
  const [outcome, setOutcome] = useState<Outcome>(null);

  function validate(value: string): boolean {
    const found = hubUriProblem(value);
    setProblem(found);
    setChecked(true);
    return found === null;
  }

  async function save(event: FormEvent) {
    event.preventDefault();
    setOutcome(null);
    if (!validate(uri)) return;
    setBusy('save');
    const result = await api.invoke('settings.setHubUri', { uri });
    setBusy(null);
    if (result.ok) {
      setSettings(result.value);
      setUri('');
      setChecked(false);
      setOutcome({ ok: true, message: 'Saved. TillSync now uses this hub.' });
    } else {
      setOutcome({ ok: false, message: sentence(result.error.message) });
    }
  }

  async function test() {
    setOutcome(null);
    if (uri.trim() !== '' && !validate(uri)) return;
    setBusy('test');
    const result = await api.invoke('settings.testHub', uri.trim() === '' ? {} : { uri });
    setBusy(null);
    setOutcome(result.ok ? result.value : { ok: false, message: sentence(result.error.message) });
  }

  return (
    <section className="panel" aria-labelledby="hub-title">
      <h2 id="hub-title">Hub connection</h2>
      <p>
        Now using:{' '}
        <span className="mono" data-testid="hub-uri-masked">
          {masked ?? 'no hub set'}
        </span>
      </p>
      <form onSubmit={(event) => void save(event)} noValidate>
        <label htmlFor={inputId}>New hub connection string</label>
        <div className="field-row">
          <input
            id={inputId}
            type={show ? 'text' : 'password'}
            value={uri}
            autoComplete="off"
            spellCheck={false}
            placeholder="mongodb+srv://user:password@cluster.example.net/"
            aria-invalid={problem !== null}
            aria-describedby={problem ? errorId : undefined}
            onChange={(event) => {
              setUri(event.target.value);
              if (checked) validate(event.target.value);
            }}
          />
          <label className="inline-field">
            <input type="checkbox" checked={show} onChange={(event) => setShow(event.target.checked)} />
            Show
          </label>
        </div>
        {problem && (
          <p id={errorId} className="field-error" role="alert" data-testid="hub-uri-error">
            {problem}
          </p>
        )}
        <div className="actions">
          <button type="button" onClick={() => void test()} disabled={busy !== null}>
            {busy === 'test' ? 'Testing…' : 'Test connection'}
          </button>
          <button type="submit" className="primary" disabled={busy !== null}>
            {busy === 'save' ? 'Saving…' : 'Save'}
          </button>
        </div>
        {outcome && (
          <p
            className={`banner ${outcome.ok ? 'banner-ok' : 'banner-bad'}`}
            role={outcome.ok ? 'status' : 'alert'}
            data-testid="hub-outcome"
          >
            {outcome.message}
          </p>
        )}
      </form>
    </section>
  );
}
