// The linter `npm test` runs beside the tests (scripts/lib/static-checks.ts): typescript-eslint's
// recommended rules on syntax alone. No type-aware rules: tsc already checks types, and a typed
// lint of the whole tree costs minutes of the 2-core machine's CPU.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/**
 * Units and qualifiers last (TIGER_STYLE; docs/ARCHITECTURE.md "House rules and names"): `retryDelayMsMax`,
 * `balanceMinorUnitsMax`, `retryDelayMsMaxDefault`, never `maxRetryDelayMs`, `balanceMaxMinorUnits` or
 * `retryDelayMaxMsDefault`.
 */
const units = '(Ms|Seconds|Minutes|Hours|Days|Bytes|MinorUnits|Bps|Units|Rows|Lines|Chars)';
const unitsLast = {
  // A qualifier first (maxDelayMs), before its unit at the end (delayMaxMs), or before a unit another
  // qualifier follows (delayMaxMsDefault, amountMaxMinorUnitsDefault: delayMsMaxDefault, amountMinorUnitsMaxDefault).
  regex: `^(max|min)[A-Z]|(Max|Min|Default)${units}$|(Max|Min)${units}(Max|Min|Default)$`,
  match: false,
};
/** Names that are not ours to choose: GraphQL contract fields and libraries' options. */
const foreignNames =
  '^(maxAdvanceBps|maxDiscountPerPayment|maxRetriesPerRequest|maxBuffer|maxBatchSize|maxWorkers|' +
  'maxQueueSize|maxExportBatchSize|maxLength|maxHeaderSize|maxPayload|maxSockets|maxAge|minVersion)$';

export default tseslint.config(
  { ignores: ['**/node_modules/**', '**/dist/**', '**/generated/**', '.data/**', 'gateway/explorer/dist/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    rules: {
      // A variable a closure reads before its one assignment (a gauge's source) stays `let`.
      'prefer-const': ['error', { ignoreReadBeforeAssign: true }],
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', ignoreRestSiblings: true, caughtErrors: 'none' },
      ],
      '@typescript-eslint/naming-convention': [
        'error',
        {
          selector: ['variable', 'function', 'parameter', 'classProperty', 'typeProperty', 'objectLiteralProperty'],
          format: null,
          custom: unitsLast,
          filter: { regex: foreignNames, match: false },
        },
      ],
    },
  },
  {
    // Tests and scripts read loosely typed JSON (GraphQL answers, bench results) on purpose.
    files: ['test/**/*.ts', '**/test/**/*.ts', 'scripts/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
);
