// Builds the fleet page into dist/fleet with relative asset paths. It reuses the
// dashboard's look by importing src-renderer/styles.css, under the same strict CSP.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

const root = fileURLToPath(new URL('.', import.meta.url));

export default defineConfig({
  root,
  base: './',
  plugins: [react()],
  build: {
    outDir: fileURLToPath(new URL('../dist/fleet', import.meta.url)),
    emptyOutDir: true,
    // No inline scripts or data: URLs, so the page runs under a strict CSP.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    sourcemap: false,
  },
});
