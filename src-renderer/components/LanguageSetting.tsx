// @jsxRuntime automatic
/**
 * The dashboard's (and the tray's) language: automatic, from the till's own
 * locale, or one chosen here. Buttons rather than a list, so a press applies
 * it and arrowing past does not; the main process keeps the choice.
 */
import { useState } from 'react';
import { LANGUAGES, type Language } from '../../src-shared/languages.ts';
import { useApi, useDashboard } from '../state/context.tsx';
import { useLanguageChoice, useWords } from '../i18n/language.tsx';
import { LANGUAGE_NAMES } from '../i18n/catalogs.ts';
import { ActionButton } from './ActionButton.tsx';

export function LanguageSetting() {
  const w = useWords();
  const api = useApi();
  const available = useDashboard((s) => s.settings !== null);
  const setSettings = useDashboard((s) => s.setSettings);
  const { chosen, automatic } = useLanguageChoice();
  const [busy, setBusy] = useState<Language | 'auto' | null>(null);
  const [error, setError] = useState<string | null>(null);
  if (!available) return null;

  async function choose(language: Language | null) {
    setBusy(language ?? 'auto');
    setError(null);
    const result = await api.invoke('settings.setLanguage', { language });
    setBusy(null);
    if (result.ok) setSettings(result.value);
    else setError(result.error.message);
  }

  const options: Array<{ value: Language | null; label: string; lang?: Language }> = [
    { value: null, label: w.t('language.auto') },
    ...LANGUAGES.map((language) => ({ value: language, label: LANGUAGE_NAMES[language], lang: language })),
  ];
  return (
    <section className="panel" aria-labelledby="language-title">
      <h2 id="language-title">{w.t('language.title')}</h2>
      <div className="choice-row" role="group" aria-labelledby="language-title" data-testid="language-choice">
        {options.map((option) => (
          <ActionButton
            key={option.value ?? 'auto'}
            lang={option.lang}
            aria-pressed={chosen === option.value}
            busy={busy === (option.value ?? 'auto')}
            unavailable={busy !== null}
            onClick={() => void choose(option.value)}
          >
            {option.label}
          </ActionButton>
        ))}
      </div>
      <p className="hint">{w.t('language.auto.hint', { language: LANGUAGE_NAMES[automatic] })}</p>
      {error && (
        <p className="field-error" role="alert">
          {error}
        </p>
      )}
    </section>
  );
}
