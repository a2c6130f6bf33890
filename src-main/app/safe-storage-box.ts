/** Electron's safeStorage (the OS keychain, DPAPI or libsecret) as the settings store's SecretBox. */
import { safeStorage } from 'electron';
import type { SecretBox } from './settings-store.ts';

export function safeStorageBox(): SecretBox {
  return {
    // On Linux without a keyring Electron falls back to a fixed key ("basic_text"): that is not secret storage.
    isAvailable: () =>
      safeStorage.isEncryptionAvailable() && (process.platform !== 'linux' || safeStorage.getSelectedStorageBackend() !== 'basic_text'),
    encrypt: (plain) => safeStorage.encryptString(plain),
    decrypt: (sealed) => safeStorage.decryptString(sealed),
  };
}
