// @jsxRuntime automatic
/**
 * The hub connection string: the saved one (password hidden), a field to enter
 * a new one (checked with the contract's own schema before it is sent), a
 * connection test, and Save. Both buttons keep focus while a request runs.
 */
import { useId, useState, type FormEvent } from 'react';
import { FormattedMessage } from 'react-intl';
import { commandInputs } from '../../src-shared/ipc.ts';
import { useApi, useDashboard } from '../state/context.tsx';
import { useWords } from '../i18n/language.tsx';
import type { MessageKey } from '../i18n/catalogs.ts';
import { ActionButton } from './ActionButton.tsx';

type Outcome = { ok: boolean; message: string } | null;

/** What is wrong with a hub connection string, by the contract's own check, as a message key; null when valid. */
export function hubUriProblem(uri: string): MessageKey | null {
  const parsed = commandInputs['settings.setHubUri'].safeParse({ uri });
  if (parsed.success) return null;
  const issue = parsed.error.issues[0];
  if (issue?.code === 'too_small') return 'hub.problem.empty';
  if (issue?.code === 'too_big') return 'hub.problem.too-long';
  return 'hub.problem.scheme';
}

/** The sync service's own words (English) as a sentence. */
function sentence(text: string): string {
  const trimmed = text.trim();
  const capital = trimmed.charAt(0).toUpperCase() + trimmed.slice(1);
  return /[.!?]$/.test(capital) ? capital : `${capital}.`;
}

export function HubConnection() {
  const w = useWords();
  const api = useApi();
  const masked = useDashboard((s) => s.settings?.hubUriMasked ?? null);
  const setSettings = useDashboard((s) => s.setSettings);
  const inputId = useId();
  const errorId = useId();
  const [uri, setUri] = useState('');
  const [show, setShow] = useState(false);
  const [problem, setProblem] = useState<MessageKey | null>(null);
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
    if (busy) return;
    setOutcome(null);
    if (!validate(uri)) return;
    setBusy('save');
    const result = await api.invoke('settings.setHubUri', { uri });
    setBusy(null);
    if (result.ok) {
      setSettings(result.value);
      setUri('');
      setChecked(false);
      setOutcome({ ok: true, message: w.t('hub.saved') });
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
      <h2 id="hub-title">{w.t('hub.title')}</h2>
      <p>
        <FormattedMessage
          id="hub.now-using"
          values={{
            uri: (
              <span className="mono" data-testid="hub-uri-masked">
                {masked ?? w.t('hub.none')}
              </span>
            ),
          }}
        />
      </p>
      <form onSubmit={(event) => void save(event)} noValidate>
        <label htmlFor={inputId}>{w.t('hub.new')}</label>
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
          <label className="check-field">
            <input type="checkbox" checked={show} onChange={(event) => setShow(event.target.checked)} />
            {w.t('hub.show')}
          </label>
        </div>
        {problem && (
          <p id={errorId} className="field-error" role="alert" data-testid="hub-uri-error">
            {w.t(problem)}
          </p>
        )}
        <div className="actions">
          <ActionButton onClick={() => void test()} busy={busy === 'test'} unavailable={busy !== null}>
            {busy === 'test' ? w.t('hub.testing') : w.t('hub.test')}
          </ActionButton>
          <ActionButton type="submit" className="primary" busy={busy === 'save'} unavailable={busy !== null}>
            {busy === 'save' ? w.t('hub.saving') : w.t('hub.save')}
          </ActionButton>
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
