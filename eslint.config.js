// Lint rules: typescript-eslint's recommended set plus the project's layer rules.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/**', 'dist/**', 'out/**', 'test-results/**', '.prof/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts', '**/*.tsx'],
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': 'error',
    },
  },
  {
    // The sync engine and the shared contract never import Electron or React.
    files: ['src-main/sync/**', 'src-shared/**'],
    rules: {
      'no-restricted-imports': ['error', { patterns: ['electron', 'react', 'react-dom'] }],
    },
  },
  {
    // The sync core is pure: no driver, no Node built-ins, nothing from the engine's I/O layers.
    // Types from bson are fine (they are erased); values it needs (hashes, id keys) are handed in.
    files: ['src-main/sync/core/**'],
    rules: {
      'no-restricted-imports': 'off',
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: [{ name: 'bson', message: 'the core takes BSON helpers through its Codec', allowTypeImports: true }],
          patterns: [
            { group: ['mongodb', 'node:*', 'electron', 'react', 'pino'], message: 'the sync core does no I/O' },
            { regex: '^\\.\\./(?!\\.\\./\\.\\./src-shared/)', message: 'the core imports only itself and src-shared' },
          ],
        },
      ],
    },
  },
  {
    // The dashboard runs sandboxed: it never imports the main process, Electron or Node built-ins.
    files: ['src-renderer/**/*.ts', 'src-renderer/**/*.tsx'],
    ignores: ['src-renderer/vite.config.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: ['**/src-main/**', 'electron', 'node:*'] }],
    },
  },
  {
    // The fleet page, likewise: it reads the fleet server over HTTP and shares only src-shared's types.
    files: ['src-fleet/**/*.ts', 'src-fleet/**/*.tsx'],
    ignores: ['src-fleet/vite.config.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: ['**/src-main/**', 'electron', 'node:*'] }],
    },
  },
  {
    files: ['scripts/**', 'test/**/cli.ts', 'test/bench/**'],
    rules: { 'no-console': 'off' },
  },
  {
    files: ['**/*.mjs', '**/*.js'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly' } },
  },
);
