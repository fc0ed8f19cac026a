// The TypeScript lint (npm run lint, run by CI): typescript-eslint's recommended rules, and no committed
// `.only` on a test or suite, which would silently skip the rest of the suite.
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'build/', 'prebuilds/', 'node_modules/', '.device/', 'docs/api/'] }, // docs/api: TypeDoc's output
  ...tseslint.configs.recommended,
  { files: ['**/*.cjs'], rules: { '@typescript-eslint/no-require-imports': 'off' } }, // CommonJS by design
  {
    files: ['**/*.ts'],
    rules: {
      'no-restricted-syntax': ['error', {
        selector: "CallExpression > MemberExpression.callee[property.name='only']",
        message: 'A committed .only runs one test and silently skips the rest of the suite.',
      }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
    },
  },
);
