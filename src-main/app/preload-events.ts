/**
 * The event names the preload forwards. Kept apart from src-shared/ipc.ts so
 * the sandboxed preload bundle does not carry zod; the compiler checks the
 * list names every event of the contract.
 */
import type { EventName } from '../../src-shared/ipc.ts';

const NAMES = ['status', 'conflict', 'settings'] as const satisfies readonly EventName[];
type EveryEventListed = EventName extends (typeof NAMES)[number] ? true : never;
const everyEventListed: EveryEventListed = true;

export const EVENT_NAMES_LIST: readonly EventName[] = everyEventListed ? NAMES : [];
