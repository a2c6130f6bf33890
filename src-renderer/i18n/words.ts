/**
 * Words for a till operator in the chosen language: messages from the
 * catalog, and numbers, durations, relative times, dates and lists through
 * `Intl` (react-intl's formatters). Pure: built from an `IntlShape`, so tests
 * can make one without React.
 */
import type { IntlShape } from 'react-intl';
import type { ConflictRule, ConflictWinner } from '../../src-shared/conflict-rules.ts';
import { isLanguage, type Language } from '../../src-shared/languages.ts';
import type { MessageParams } from '../../src-shared/status.ts';
import { isMessageKey, type MessageKey } from './catalogs.ts';

export type Values = Record<string, string | number>;

export interface Words {
  language: Language;
  /** The locale dates and numbers are formatted in (keeps the till's region, e.g. `fr-CA`). */
  locale: string;
  t(key: MessageKey, values?: Values): string;
  number(value: number, fractionDigits?: number): string;
  /** "40 ms", "1.2 seconds", "3 minutes", "2 hours", "4 days". */
  duration(ms: number): string;
  /** "just now", "45 seconds ago", "2 minutes ago", "3 hours ago", "4 days ago". */
  timeAgo(at: number, now: number): string;
  /** A date and time, e.g. "5 Mar 2024, 14:02:07". */
  dateTime(at: number): string;
  /** "price, name and note". */
  list(items: readonly string[]): string;
  /**
   * A message the engine sent as a code (`error`, `warning` or `quarantine`):
   * in this language when the catalog knows the code and has every value it
   * needs, else the engine's English text.
   */
  engine(kind: 'error' | 'warning' | 'quarantine', code: string | undefined, params: MessageParams | undefined, english: string): string;
  /** Why a conflict's winner was kept, from its rule. */
  rule(rule: ConflictRule | null, winner: ConflictWinner, fields: readonly string[]): string;
}

export function makeWords(intl: IntlShape): Words {
  const language = languageOfLocale(intl.locale);
  const unit = (value: number, name: string, display: 'long' | 'short' = 'long', fractionDigits = 0) =>
    intl.formatNumber(value, {
      style: 'unit',
      unit: name,
      unitDisplay: display,
      minimumFractionDigits: fractionDigits,
      maximumFractionDigits: fractionDigits,
    });

  const words: Words = {
    language,
    locale: intl.locale,
    t: (key, values) => intl.formatMessage({ id: key }, values),
    number: (value, fractionDigits) =>
      intl.formatNumber(
        value,
        fractionDigits === undefined ? {} : { minimumFractionDigits: fractionDigits, maximumFractionDigits: fractionDigits },
      ),
    duration(ms) {
      if (ms < 1000) return unit(Math.round(ms), 'millisecond', 'short');
      const seconds = ms / 1000;
      if (seconds < 60) return seconds < 10 ? unit(seconds, 'second', 'long', 1) : unit(Math.round(seconds), 'second');
      const minutes = Math.floor(seconds / 60);
      if (minutes < 60) return unit(minutes, 'minute');
      const hours = Math.floor(minutes / 60);
      if (hours < 48) return unit(hours, 'hour');
      return unit(Math.floor(hours / 24), 'day');
    },
    timeAgo(at, now) {
      const seconds = Math.max(0, Math.round((now - at) / 1000));
      if (seconds < 5) return words.t('time.just-now');
      if (seconds < 60) return intl.formatRelativeTime(-seconds, 'second');
      const minutes = Math.floor(seconds / 60);
      if (minutes < 60) return intl.formatRelativeTime(-minutes, 'minute');
      const hours = Math.floor(minutes / 60);
      if (hours < 48) return intl.formatRelativeTime(-hours, 'hour');
      return intl.formatRelativeTime(-Math.floor(hours / 24), 'day');
    },
    dateTime: (at) => intl.formatDate(at, { dateStyle: 'medium', timeStyle: 'medium' }),
    list: (items) => intl.formatList(items, { type: 'conjunction' }),
    engine(kind, code, params, english) {
      const key = code === undefined ? undefined : `${kind}.${code}`;
      if (key === undefined || !isMessageKey(key)) return english;
      const values: Values = {};
      for (const [name, value] of Object.entries(params ?? {})) {
        values[name] = value;
        if (typeof value === 'number' && name.endsWith('Ms') && name.length > 2) values[name.slice(0, -2)] = words.duration(value);
      }
      try {
        // Formatted directly, so a value the message needs and did not get throws here instead of printing "{name}".
        const formatted = intl.formatters.getMessageFormat(intl.messages[key] as string, intl.locale).format(values);
        return typeof formatted === 'string' ? formatted : english;
      } catch {
        return english;
      }
    },
    rule(rule, winner, fields) {
      return words.t(rule === null ? 'rule.unknown' : `rule.${rule}`, {
        winner,
        fields: words.list(fields),
        fieldCount: fields.length,
      });
    },
  };
  return words;
}

/** The locale is always one of the catalog's languages, maybe with a region (`formattingLocale`). */
function languageOfLocale(locale: string): Language {
  const language = locale.toLowerCase().split('-')[0];
  return isLanguage(language) ? language : 'en';
}
