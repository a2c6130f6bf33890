/**
 * The languages TillSync speaks, and how one is chosen from a till's locale.
 * Shared by the tray (main process) and the dashboard; plain data and pure
 * functions, no platform imports.
 */

export const LANGUAGES = ['en', 'fr'] as const;

export type Language = (typeof LANGUAGES)[number];

export function isLanguage(value: unknown): value is Language {
  return typeof value === 'string' && (LANGUAGES as readonly string[]).includes(value);
}

/** The language part of a BCP 47 tag, lower case: `fr-CA` → `fr`, `en_US.UTF-8` → `en`. */
function languageOf(tag: string): string {
  return (
    tag
      .trim()
      .toLowerCase()
      .split(/[-_.@]/)[0] ?? ''
  );
}

/** The first of `preferred` (locale tags, most wanted first) in a language TillSync speaks; English when none is. */
export function pickLanguage(preferred: readonly string[]): Language {
  for (const tag of preferred) {
    const language = languageOf(tag);
    if (isLanguage(language)) return language;
  }
  return 'en';
}

/**
 * The locale to format dates and numbers with: the first preferred tag in
 * `language`, so the till's region is kept (`fr-CA`, `en-GB`), else the bare
 * language. A tag the platform's `Intl` does not accept is skipped.
 */
export function formattingLocale(language: Language, preferred: readonly string[]): string {
  for (const tag of preferred) {
    if (languageOf(tag) !== language) continue;
    try {
      const [canonical] = Intl.getCanonicalLocales(tag.replace(/_/g, '-').split('.')[0]);
      if (canonical) return canonical;
    } catch {
      // not a valid tag (e.g. "C" or a POSIX name Intl does not know): try the next one
    }
  }
  return language;
}
