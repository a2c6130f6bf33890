// @jsxRuntime automatic
/** A policy for a collection that has none yet: its name (checked by the contract's own schema) and how it syncs. */
import { useId, useState, type FormEvent } from 'react';
import { SYNC_MODES, commandInputs, type SyncModeName } from '../../src-shared/ipc.ts';
import { useWords } from '../i18n/language.tsx';
import type { MessageKey } from '../i18n/catalogs.ts';
import { ActionButton } from './ActionButton.tsx';

/** What is wrong with a collection name, by the contract's check, as a message key; null when valid. */
export function collectionProblem(name: string): MessageKey | null {
  const parsed = commandInputs['settings.setPolicy'].shape.collection.safeParse(name);
  if (parsed.success) return null;
  const issue = parsed.error.issues[0];
  if (issue?.code === 'too_small') return 'policies.problem.empty';
  if (issue?.code === 'too_big') return 'policies.problem.too-long';
  return 'policies.problem.characters';
}

export function AddPolicy(props: {
  suggestions: string[];
  busy: boolean;
  onAdd: (collection: string, mode: SyncModeName) => Promise<boolean>;
}) {
  const w = useWords();
  const nameId = useId();
  const modeId = useId();
  const listId = useId();
  const errorId = useId();
  const [name, setName] = useState('');
  const [mode, setMode] = useState<SyncModeName>('both');
  const [problem, setProblem] = useState<MessageKey | null>(null);

  async function submit(event: FormEvent) {
    event.preventDefault();
    if (props.busy) return;
    const found = collectionProblem(name.trim());
    setProblem(found);
    if (found) return;
    if (await props.onAdd(name.trim(), mode)) setName('');
  }

  return (
    <form className="add-policy" onSubmit={(event) => void submit(event)} noValidate>
      <div>
        <label htmlFor={nameId}>{w.t('policies.add.collection')}</label>
        <input
          id={nameId}
          type="text"
          value={name}
          list={listId}
          autoComplete="off"
          spellCheck={false}
          aria-invalid={problem !== null}
          aria-describedby={problem ? errorId : undefined}
          onChange={(event) => setName(event.target.value)}
        />
        <datalist id={listId}>
          {props.suggestions.map((suggestion) => (
            <option key={suggestion} value={suggestion} />
          ))}
        </datalist>
      </div>
      <div>
        <label htmlFor={modeId}>{w.t('policies.add.mode')}</label>
        <select id={modeId} value={mode} onChange={(event) => setMode(event.target.value as SyncModeName)}>
          {SYNC_MODES.map((m) => (
            <option key={m} value={m}>
              {w.t(`mode.${m}`)}
            </option>
          ))}
        </select>
      </div>
      <ActionButton type="submit" busy={props.busy}>
        {w.t('policies.add.submit')}
      </ActionButton>
      {problem && (
        <p id={errorId} className="field-error" role="alert">
          {w.t(problem)}
        </p>
      )}
    </form>
  );
}
