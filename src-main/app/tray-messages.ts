/**
 * The tray's words in each language TillSync speaks, as ICU messages
 * (plurals by `Intl.PluralRules`). French is typed by the English keys, so a
 * message missing in either language is a compile error.
 */
import { createIntl, createIntlCache, type IntlShape } from '@formatjs/intl';
import type { Language } from '../../src-shared/languages.ts';

const en = {
  'lag.under-a-second': 'under a second',
  'lag.hours': '{count, plural, one {# hour} other {# hours}}',
  'lag.minutes': '{count, plural, one {# minute} other {# minutes}}',
  'lag.seconds': '{count, plural, one {# second} other {# seconds}}',
  pending: '{count, plural, one {# change is waiting to be sent.} other {# changes are waiting to be sent.}}',
  paused: 'TillSync: sync is paused. This till keeps working; changes are sent when sync resumes.',
  synced: 'TillSync: up to date.',
  'synced.lag': 'TillSync: up to date (changes arrive in {lag}).',
  syncing: 'TillSync: sending and receiving changes.',
  'syncing.lag': 'TillSync: sending and receiving changes (about {lag} behind).',
  starting: 'TillSync: starting up.',
  'starting.lag': 'TillSync: starting up (about {lag} behind).',
  offline: 'TillSync: cannot reach head office. This till keeps working; changes are sent when the connection is back.',
  error: 'TillSync: sync has stopped because of a problem. Open the dashboard to see what happened.',
  'menu.open': 'Open dashboard',
  'menu.pause': 'Pause sync',
  'menu.resume': 'Resume sync',
  'menu.quit': 'Quit TillSync',
} as const;

export type TrayMessageKey = keyof typeof en;

const fr: Record<TrayMessageKey, string> = {
  'lag.under-a-second': 'moins d’une seconde',
  'lag.hours': '{count, plural, one {# heure} other {# heures}}',
  'lag.minutes': '{count, plural, one {# minute} other {# minutes}}',
  'lag.seconds': '{count, plural, one {# seconde} other {# secondes}}',
  pending: '{count, plural, one {# modification attend d’être envoyée.} other {# modifications attendent d’être envoyées.}}',
  paused:
    'TillSync : la synchronisation est en pause. Cette caisse continue de fonctionner ; les modifications seront envoyées à la reprise.',
  synced: 'TillSync : à jour.',
  'synced.lag': 'TillSync : à jour (les modifications arrivent en {lag}).',
  syncing: 'TillSync : envoi et réception des modifications.',
  'syncing.lag': 'TillSync : envoi et réception des modifications (environ {lag} de retard).',
  starting: 'TillSync : démarrage.',
  'starting.lag': 'TillSync : démarrage (environ {lag} de retard).',
  offline:
    'TillSync : le siège est injoignable. Cette caisse continue de fonctionner ; les modifications seront envoyées au retour de la connexion.',
  error: 'TillSync : la synchronisation s’est arrêtée à cause d’un problème. Ouvrez le tableau de bord pour voir ce qui s’est passé.',
  'menu.open': 'Ouvrir le tableau de bord',
  'menu.pause': 'Mettre la synchronisation en pause',
  'menu.resume': 'Reprendre la synchronisation',
  'menu.quit': 'Quitter TillSync',
};

export const TRAY_MESSAGES: Record<Language, Record<TrayMessageKey, string>> = { en, fr };

const cache = createIntlCache();
const intls = new Map<Language, IntlShape<string>>();

/** The tray's words in `language`: `say('pending', { count: 3 })`. */
export function trayWords(language: Language): (key: TrayMessageKey, values?: Record<string, string | number>) => string {
  let intl = intls.get(language);
  if (!intl) intls.set(language, (intl = createIntl({ locale: language, messages: TRAY_MESSAGES[language] }, cache)));
  const found = intl;
  return (key, values) => found.formatMessage({ id: key }, values);
}
