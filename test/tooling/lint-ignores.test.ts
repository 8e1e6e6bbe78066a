import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

const repoRoot = join(__dirname, '..', '..');

/**
 * What ESLint and Prettier (`npm run lint`) skip, asked of their own APIs in a child process (ESLint
 * loads its flat config as an ES module, which jest's module system does not). The paths need not
 * exist: ignores are decided by name.
 */
function ignored(paths: string[]): Record<string, { eslint: boolean; prettier: boolean }> {
  const script = `
    import { ESLint } from 'eslint';
    import * as prettier from 'prettier';
    const eslint = new ESLint();
    const result = {};
    for (const path of JSON.parse(process.argv[1])) {
      const info = await prettier.getFileInfo(path, { ignorePath: ['.gitignore', '.prettierignore'] });
      result[path] = { eslint: await eslint.isPathIgnored(path), prettier: info.ignored };
    }
    console.log(JSON.stringify(result));
  `;
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script, JSON.stringify(paths)], {
    cwd: repoRoot,
    encoding: 'utf8',
  });
  return JSON.parse(out) as Record<string, { eslint: boolean; prettier: boolean }>;
}

describe('npm run lint', () => {
  // The root build (dist/), the SDK's own build (client/README: `npm run build` in client/ emits
  // client/dist/), a coverage report anywhere, and what `azd` keeps per environment (.azure/).
  const buildOutputs = [
    'dist/local/cli.js',
    'dist/client/index.d.ts',
    'client/dist/client/index.js',
    'client/dist/client/index.d.ts',
    'client/dist/shared/sync/sync-protocol.js',
    'coverage/lcov-report/index.js',
    'client/coverage/lcov-report/index.js',
    '.azure/dev/config.json',
    '.azure/dev/.env',
  ];
  const sources = ['shared/config.ts', 'client/index.ts', 'local/cli.ts', 'test/local/build-script.test.ts'];

  it('ignores every build output, in ESLint and Prettier', () => {
    const result = ignored([...buildOutputs, ...sources]);
    for (const path of buildOutputs)
      expect([path, result[path]]).toEqual([path, { eslint: true, prettier: true }]);
    for (const path of sources)
      expect([path, result[path]]).toEqual([path, { eslint: false, prettier: false }]);
  });
});
