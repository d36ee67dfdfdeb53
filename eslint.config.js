// ESLint flat config for the whole monorepo (run from the root: `npm run lint`).
// Syntax-only typescript-eslint (no type-aware rules: no parserOptions.project), so a full run
// stays fast on a 2-core machine; tsc's typecheck target covers the type-level checks.
// eslint-config-prettier comes last: formatting is Prettier's job, not ESLint's.
import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: [
      '**/node_modules/',
      '**/dist/',
      '**/build/',
      '**/out-tsc/',
      '**/coverage/',
      '.cache/',
      '.nx/',
      'libs/*/build/',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      ecmaVersion: 2023,
      sourceType: 'module',
      globals: { ...globals.node },
    },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      // Unused names are errors, except those deliberately marked with a leading underscore.
      '@typescript-eslint/no-unused-vars': [
        'error',
        {
          args: 'after-used',
          argsIgnorePattern: '^_',
          varsIgnorePattern: '^_',
          caughtErrorsIgnorePattern: '^_',
          destructuredArrayIgnorePattern: '^_',
          ignoreRestSiblings: true,
        },
      ],
      eqeqeq: ['error', 'always', { null: 'ignore' }],
      'no-empty': ['error', { allowEmptyCatch: true }],
      // `let x!: T; ... x = ...` with x read in a closure written before it is deliberate here.
      'prefer-const': ['error', { destructuring: 'all', ignoreReadBeforeAssign: true }],
      'object-shorthand': ['error', 'properties'],
      'no-useless-rename': 'error',
      'no-self-compare': 'error',
      'no-template-curly-in-string': 'error',
    },
  },
  prettier,
);
