/**
 * The dashboard's catalogs: every conflict rule and engine code explained in
 * every language, the same values used by each language's version of a
 * message, and messages ICU reads as written.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createIntl } from 'react-intl';
import { parse, TYPE, type MessageFormatElement } from '@formatjs/icu-messageformat-parser';
import { CONFLICT_RULES } from '../../src-shared/conflict-rules.ts';
import { LANGUAGES, formattingLocale, pickLanguage, type Language } from '../../src-shared/languages.ts';
import { CATALOGS, type MessageKey } from '../../src-renderer/i18n/catalogs.ts';
import { makeWords, type Words } from '../../src-renderer/i18n/words.ts';

function wordsIn(language: Language, locale: string = language): Words {
  return makeWords(createIntl({ locale, messages: CATALOGS[language], onError: (err) => assert.fail(err.message) }));
}

/** The names of the values a message uses, with their kind (plain, number, plural, select…). */
function argumentsOf(elements: MessageFormatElement[], into = new Map<string, number>()): Map<string, number> {
  for (const element of elements) {
    if ('value' in element && typeof element.value === 'string' && element.type !== TYPE.literal) into.set(element.value, element.type);
    if ('options' in element) for (const option of Object.values(element.options)) argumentsOf(option.value, into);
    if (element.type === TYPE.tag) argumentsOf(element.children, into);
  }
  return into;
}

describe('catalogs', () => {
  it('explain every conflict rule in every language, for either winner, with and without fields', () => {
    for (const language of LANGUAGES) {
      const w = wordsIn(language);
      for (const rule of [...CONFLICT_RULES, null]) {
        for (const winner of ['hub', 'local'] as const) {
          for (const fields of [[], ['price'], ['price', 'name', 'note']]) {
            const text = w.rule(rule, winner, fields);
            assert.match(text, /\w{3}/, `${language} ${rule} ${winner}`);
            assert.doesNotMatch(text, /[{}]/, `${language} ${rule}: a value was left unfilled: ${text}`);
            if (rule === 'newer-version-per-field' && fields.length > 0) assert.ok(text.includes('price'), text);
          }
        }
      }
    }
    const [en, fr] = [wordsIn('en'), wordsIn('fr')];
    for (const rule of CONFLICT_RULES)
      assert.notEqual(fr.rule(rule, 'hub', ['a']), en.rule(rule, 'hub', ['a']), `${rule} is said in French`);
    assert.equal(fr.rule('newer-version-per-field', 'hub', ['prix', 'nom']).includes('prix et nom'), true, 'fields are listed in French');
  });

  it('give each language the same values for the same message, and parse as ICU', () => {
    const keys = Object.keys(CATALOGS.en) as MessageKey[];
    for (const language of LANGUAGES) assert.deepEqual(Object.keys(CATALOGS[language]).sort(), [...keys].sort(), language);
    for (const key of keys) {
      const english = [...argumentsOf(parse(CATALOGS.en[key]))].sort();
      for (const language of LANGUAGES) {
        const found = [...argumentsOf(parse(CATALOGS[language][key]))].sort();
        assert.deepEqual(found, english, `${language} "${key}" uses other values than the English`);
      }
    }
  });

  it('keep ICU from reading an apostrophe as a quote, and French typography', () => {
    for (const [key, message] of Object.entries(CATALOGS.en)) assert.doesNotMatch(message, /'[{}#]/, `en "${key}"`);
    for (const [key, message] of Object.entries(CATALOGS.fr)) {
      assert.doesNotMatch(message, /'/, `fr "${key}" uses ’, never '`);
      assert.doesNotMatch(message, / [:;?!]/, `fr "${key}": a no-break space goes before : ; ? !`);
    }
  });

  it("say the engine's coded messages in the operator's language, and its English text for anything else", () => {
    const fr = wordsIn('fr');
    assert.match(fr.engine('warning', 'till-clock-off', { offsetMs: 9 * 60_000, direction: 'fast' }, 'English'), /avance de 9 minutes/);
    assert.match(fr.engine('error', 'hub-rejected', { detail: 'E11000 duplicate key', serverCode: '11000' }, 'English'), /E11000.*11000/);
    assert.match(fr.engine('quarantine', 'clock-drift', { device: 'till-c', aheadMs: 7 * 60_000 }, 'English'), /till-c avec 7 minutes/);
    assert.equal(fr.engine('warning', 'a-code-from-a-newer-engine', {}, 'The English text.'), 'The English text.');
    assert.equal(fr.engine('error', undefined, undefined, 'No code at all.'), 'No code at all.');
    assert.equal(fr.engine('warning', 'clock-drift', { device: 'till-c' }, 'Missing a value.'), 'Missing a value.', 'a value missing');
  });

  it('format numbers, durations and relative times through Intl', () => {
    const [en, fr] = [wordsIn('en', 'en-GB'), wordsIn('fr', 'fr-FR')];
    const now = Date.UTC(2024, 2, 5, 14, 0, 0);
    assert.equal(en.timeAgo(now - 2 * 60_000, now), '2 minutes ago');
    assert.equal(fr.timeAgo(now - 2 * 60_000, now), 'il y a 2 minutes');
    assert.equal(fr.timeAgo(now - 1000, now), 'à l’instant');
    assert.equal(en.duration(1200), '1.2 seconds');
    assert.match(fr.duration(1200), /^1,2\sseconde$/, 'French: a decimal comma, and "seconde" below 2');
    assert.match(fr.duration(40), /^40\sms$/);
    assert.equal(fr.number(12345), '12\u202f345');
    assert.equal(fr.t('header.waiting', { count: 1 }), '1 modification en attente d’envoi');
    assert.equal(fr.t('header.waiting', { count: 1500 }), '1\u202f500 modifications en attente d’envoi');
    assert.equal(en.t('header.waiting', { count: 0 }), 'Nothing waiting to be sent');
  });

  it("pick the language from the till's locale, keeping its region for dates and numbers", () => {
    assert.equal(pickLanguage(['fr-CA', 'en-US']), 'fr');
    assert.equal(pickLanguage(['de-DE', 'fr-FR']), 'fr');
    assert.equal(pickLanguage(['de-DE']), 'en');
    assert.equal(pickLanguage(['fr_BE.UTF-8']), 'fr');
    assert.equal(pickLanguage([]), 'en');
    assert.equal(formattingLocale('fr', ['fr-CA', 'en-US']), 'fr-CA');
    assert.equal(formattingLocale('en', ['fr-CA', 'en-GB']), 'en-GB');
    assert.equal(formattingLocale('en', ['fr-CA']), 'en');
    assert.equal(formattingLocale('fr', ['fr_BE.UTF-8']), 'fr-BE');
  });
});
