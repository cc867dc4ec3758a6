// ESLint flat config. The rule set is small on purpose: three typescript-eslint rules
// and nothing from the recommended sets. Typed linting (projectService) is needed
// for no-floating-promises: src files are covered by each package's tsconfig.json,
// tests by the root tsconfig.json, and the two bin launchers by the default project.
import { defineConfig, globalIgnores } from 'eslint/config'
import tseslint from 'typescript-eslint'

export default defineConfig(
  // Fixture programs are data for tests (some are broken on purpose), not code to lint.
  globalIgnores(['**/dist/**', '**/node_modules/**', '**/coverage/**', '**/.tap/**', 'test/fixtures/**', 'packages/*/test/fixtures/**']),
  {
    files: [
      'packages/*/src/**/*.ts',
      'packages/*/bin/*.js',
      'packages/*/test/**/*.ts',
      'test/**/*.ts'
    ],
    languageOptions: {
      parser: tseslint.parser,
      parserOptions: {
        projectService: {
          allowDefaultProject: ['packages/*/bin/*.js']
        },
        tsconfigRootDir: import.meta.dirname
      }
    },
    linterOptions: {
      reportUnusedDisableDirectives: 'error'
    },
    plugins: {
      '@typescript-eslint': tseslint.plugin
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', {
        args: 'after-used',
        argsIgnorePattern: '^_',
        varsIgnorePattern: '^_',
        caughtErrorsIgnorePattern: '^_',
        destructuredArrayIgnorePattern: '^_',
        ignoreRestSiblings: true
      }],
      // tap's t.test() returns a promise that always resolves (a failing subtest is
      // reported by tap, never rejected) and tap itself waits for queued subtests, so
      // the usual un-awaited t.test(...) is not a floating promise.
      '@typescript-eslint/no-floating-promises': ['error', {
        allowForKnownSafeCalls: [{ from: 'package', package: '@tapjs/test', name: 'test' }]
      }],
      '@typescript-eslint/consistent-type-imports': ['error', {
        prefer: 'type-imports',
        fixStyle: 'inline-type-imports'
      }]
    }
  }
)
