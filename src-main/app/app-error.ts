/**
 * Errors the app's backend throws on purpose: a code the dashboard can act on
 * (the IpcError codes) and a message in plain words. Anything else thrown is
 * unexpected and reaches the dashboard as `internal`, with secrets removed.
 */
import { redactUri } from '../sync/config.ts';

export type AppErrorCode = 'invalid-input' | 'not-found' | 'unavailable' | 'internal';

export class AppError extends Error {
  override readonly name = 'AppError';
  constructor(
    readonly code: AppErrorCode,
    message: string,
    /** The input field at fault, when there is one. */
    readonly field?: string,
  ) {
    super(message);
  }
}

const URI_IN_TEXT = /mongodb(?:\+srv)?:\/\/[^\s"'<>]+/g;

/** Text with every MongoDB connection string in it reduced to its password-free form. */
export function redactText(text: string): string {
  return text.replace(URI_IN_TEXT, (uri) => redactUri(uri));
}
