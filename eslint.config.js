// Lint with type information (typescript-eslint) over every JS and TS file in the repository.
// tsconfig.json covers src/, parsers/, test/ and, through allowJs (no checkJs), bench/, scripts/,
// bin/ and this file, so the type-aware promise rules run on the .mjs scripts too.
//
// Rules: eslint's and typescript-eslint's recommended sets (no type information needed), plus the
// type-aware rules that find async mistakes tests rarely catch. Not the whole recommendedTypeChecked
// set: on this code base it adds ~200 no-unnecessary-type-assertion and ~220 no-unsafe-* findings
// (JSON.parse results in tests, untyped .mjs), noise that would bury the promise findings.
import js from '@eslint/js'
import tseslint from 'typescript-eslint'
import globals from 'globals'

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'coverage/', '.vitest/', 'bench/out/', 'fixtures/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: globals.node,
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      // A promise nobody awaits loses its error and lets a later write (a checkpoint) overtake it.
      '@typescript-eslint/no-floating-promises': 'error',
      // An async callback where a void one is expected (event handlers, forEach, setTimeout): its
      // rejection is unhandled and the caller does not wait for it.
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/await-thenable': 'error',
      '@typescript-eslint/require-await': 'error',
      // `return promise` inside try/catch/finally skips the catch and runs finally too early.
      '@typescript-eslint/return-await': ['error', 'error-handling-correctness-only'],
      '@typescript-eslint/only-throw-error': 'error',
      // Rejecting with a caught `unknown` or an abort reason passes an error on, which is fine.
      '@typescript-eslint/prefer-promise-reject-errors': ['error', { allowThrowingAny: true, allowThrowingUnknown: true }],
      '@typescript-eslint/no-for-in-array': 'error',
      '@typescript-eslint/no-array-delete': 'error',
      '@typescript-eslint/no-implied-eval': 'error',
      '@typescript-eslint/no-base-to-string': 'error',
      '@typescript-eslint/restrict-plus-operands': 'error',
      '@typescript-eslint/restrict-template-expressions': 'error',
      '@typescript-eslint/unbound-method': 'error',
      '@typescript-eslint/no-redundant-type-constituents': 'error',
      '@typescript-eslint/no-duplicate-type-constituents': 'error',
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' },
      ],
      // Matching control characters is the point wherever this code does it (escaping log text).
      'no-control-regex': 'off',
      // `let [a, b] = ...` where only b changes stays one destructuring.
      'prefer-const': ['error', { destructuring: 'all' }],
    },
  },
)
