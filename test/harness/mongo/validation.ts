/**
 * Collection validators (create or collMod `validator`, any query, $jsonSchema
 * included): a written document that does not match is refused with
 * DocumentValidationFailure (121) and an errInfo naming it. validationLevel
 * "moderate" spares updates of documents that did not match before; "off",
 * and a command's bypassDocumentValidation, spare everything;
 * validationAction "warn" logs instead of refusing.
 */
import type { Document } from 'bson';
import type { Collection } from './catalog.ts';
import { CommandError } from './errors.ts';
import { compileFilter } from './query.ts';
import type { Logger } from './state.ts';
import { isPlainObject } from './values.ts';

const compiled = new WeakMap<Document, (doc: Document) => boolean>();

function matcher(validator: Document): (doc: Document) => boolean {
  let test = compiled.get(validator);
  if (!test) {
    test = compileFilter(validator);
    compiled.set(validator, test);
  }
  return test;
}

/** Throws DocumentValidationFailure if `after` may not be written to `coll` (`before`: the document it replaces). */
export function checkValidator(coll: Collection, after: Document, before: Document | undefined, log: Logger): void {
  const validator = coll.options.validator;
  if (!isPlainObject(validator) || Object.keys(validator).length === 0) return;
  const level = (coll.options.validationLevel as string | undefined) ?? 'strict';
  if (level === 'off') return;
  const test = matcher(validator);
  if (test(after)) return;
  if (level === 'moderate' && before !== undefined && !test(before)) return;
  if (coll.options.validationAction === 'warn') {
    log('warn', 'Document would fail validation', { namespace: coll.ns, documentId: String(after._id) });
    return;
  }
  const operatorName = Object.keys(validator).length === 1 ? (Object.keys(validator)[0] as string) : '$and';
  throw new CommandError(121, 'Document failed validation', {
    extra: {
      errInfo: {
        failingDocumentId: after._id,
        details: {
          operatorName: operatorName.startsWith('$') ? operatorName : '$and',
          specifiedAs: validator,
          reason: 'the document does not match the validator',
        },
      },
    },
  });
}
