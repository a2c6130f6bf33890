/**
 * Every message of the dashboard, per language: the English keys are the
 * source, and each language is typed by them (see en-ui.ts, en-engine.ts).
 */
import type { Language } from '../../src-shared/languages.ts';
import { enUi } from './en-ui.ts';
import { enEngine } from './en-engine.ts';
import { frUi } from './fr-ui.ts';
import { frEngine } from './fr-engine.ts';

const en = { ...enUi, ...enEngine };

export type MessageKey = keyof typeof en;
export type Catalog = Record<MessageKey, string>;

export const CATALOGS: Record<Language, Catalog> = {
  en,
  fr: { ...frUi, ...frEngine },
};

/** Each language by its own name, as a language menu lists them (never translated). */
export const LANGUAGE_NAMES: Record<Language, string> = { en: 'English', fr: 'Français' };

export function isMessageKey(key: string): key is MessageKey {
  return Object.prototype.hasOwnProperty.call(en, key);
}

// react-intl checks every message id against the catalog's keys.
declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace FormatjsIntl {
    interface Message {
      ids: MessageKey;
    }
  }
}
