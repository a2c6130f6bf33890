/**
 * The MongoDB replica-set emulator: test and demo infrastructure that speaks the
 * MongoDB wire protocol to the official driver. The shipped app runs a real mongod.
 */
export { startEmulator } from './emulator.ts';
export type { Emulator, EmulatorOptions } from './emulator.ts';
