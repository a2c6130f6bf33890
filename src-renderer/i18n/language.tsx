// @jsxRuntime automatic
/**
 * The dashboard's language: the one chosen in settings (kept by the main
 * process, so the tray follows it too), else the till's own (the browser's
 * preferred languages, which in the desktop app are the system's), else
 * English. Sets `<html lang>` to match, for screen readers and hyphenation.
 */
import { createContext, useContext, useEffect, useMemo, type ReactNode } from 'react';
import { IntlProvider, useIntl } from 'react-intl';
import { formattingLocale, pickLanguage, type Language } from '../../src-shared/languages.ts';
import { useDashboard } from '../state/context.tsx';
import { CATALOGS } from './catalogs.ts';
import { makeWords, type Words } from './words.ts';

export interface LanguageChoice {
  language: Language;
  /** What "automatic" picks on this till. */
  automatic: Language;
  /** The language set in settings; null follows the till. */
  chosen: Language | null;
  locale: string;
}

function browserLanguages(): readonly string[] {
  if (typeof navigator === 'undefined') return [];
  return navigator.languages?.length ? navigator.languages : navigator.language ? [navigator.language] : [];
}

const ChoiceContext = createContext<LanguageChoice | null>(null);

/** The language in use, what "automatic" would pick, and what settings chose. */
export function useLanguageChoice(): LanguageChoice {
  const choice = useContext(ChoiceContext);
  if (!choice) throw new Error('useLanguageChoice needs <LanguageProvider>');
  return choice;
}

export function LanguageProvider(props: { children: ReactNode; preferred?: readonly string[] }) {
  const preferred = props.preferred ?? browserLanguages();
  const chosen = useDashboard((s) => s.settings?.language ?? null);
  const automatic = pickLanguage(preferred);
  const language = chosen ?? automatic;
  const locale = formattingLocale(language, preferred);
  const choice = useMemo(() => ({ language, automatic, chosen, locale }), [language, automatic, chosen, locale]);
  useEffect(() => {
    document.documentElement.lang = locale;
  }, [locale]);
  return (
    <ChoiceContext value={choice}>
      <IntlProvider locale={locale} messages={CATALOGS[language]} defaultLocale="en">
        {props.children}
      </IntlProvider>
    </ChoiceContext>
  );
}

/** The words of the current language (see words.ts). */
export function useWords(): Words {
  const intl = useIntl();
  return useMemo(() => makeWords(intl), [intl]);
}
