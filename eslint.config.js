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
