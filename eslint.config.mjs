// ESLint flat config: typescript-eslint type-checked rules, Prettier owns formatting.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import prettier from 'eslint-config-prettier';

export default tseslint.config(
  {
    // Build outputs wherever a build puts them (the root's dist/, the SDK's client/dist/ from its
    // own build, coverage reports) and azd's per-environment files are never linted.
    ignores: [
      '**/node_modules/**',
      '**/dist/**',
      '**/coverage/**',
      '.data/**',
      '.azure/**',
      '*.js',
      '*.mjs',
      'scripts/*.mjs',
      'admin-ui/*.mjs',
      'test/support/*.mjs',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      // Route handlers and ports return promises by contract, whether or not they await.
      '@typescript-eslint/require-await': 'off',
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // The core's rule folders know nothing of Azure SDKs: adapters translate them.
    files: [
      'shared/model/**/*.ts',
      'shared/profiles/**/*.ts',
      'shared/filters/**/*.ts',
      'shared/security/**/*.ts',
      'shared/sync/**/*.ts',
      'shared/replication/**/*.ts',
      'shared/provisioning/**/*.ts',
    ],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [{ group: ['@azure/*'], message: 'Keep Azure SDKs in adapters.' }] },
      ],
    },
  },
  {
    // The core records telemetry through the OpenTelemetry API only; the hosts install an SDK.
    files: ['shared/**/*.ts'],
    ignores: ['shared/store/**', 'shared/queue/**', 'shared/sources/**', 'shared/azure-credential.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['@azure/*'], message: 'Keep Azure SDKs in adapters.' },
            {
              group: ['@opentelemetry/*', '!@opentelemetry/api'],
              message: 'The core uses @opentelemetry/api only; SDKs belong to the hosts.',
            },
          ],
        },
      ],
    },
  },
  {
    // The core's adapters may use Azure SDKs, not OpenTelemetry SDKs.
    files: [
      'shared/store/**/*.ts',
      'shared/queue/**/*.ts',
      'shared/sources/**/*.ts',
      'shared/azure-credential.ts',
    ],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['@opentelemetry/*', '!@opentelemetry/api'],
              message: 'The core uses @opentelemetry/api only; SDKs belong to the hosts.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['test/**/*.ts'],
    rules: {
      // End-to-end tests assert on parsed JSON responses field by field.
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/unbound-method': 'off',
    },
  },
  prettier,
);
