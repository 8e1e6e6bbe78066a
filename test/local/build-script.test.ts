import { execFileSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const repoRoot = join(__dirname, '..', '..');
const script = join(repoRoot, 'scripts', 'build.mjs');

/**
 * `npm run token`, `cli`, `device` (and `start`, `bench`) build only when a source changed since the
 * last build (scripts/build.mjs), instead of running tsc on every call (4-15 s per token).
 */
describe('npm scripts start without rebuilding a current build', () => {
  const { scripts } = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as {
    scripts: Record<string, string>;
  };

  it.each(['token', 'cli', 'device', 'start', 'bench'])(
    '%s builds only if stale, then runs dist/',
    (name) => {
      expect(scripts[name]).toMatch(/^node scripts\/build\.mjs --if-stale && node dist\//);
    },
  );

  it('build always builds and leaves the stamp the others compare with', () => {
    expect(scripts.build).toBe('node scripts/build.mjs');
  });
});

describe('scripts/build.mjs', () => {
  let project: string;
  const output = () => join(project, 'dist', 'src', 'a.js');
  const run = (...args: string[]) =>
    execFileSync(process.execPath, [script, ...args], { cwd: project, encoding: 'utf8', stdio: 'pipe' });
  const age = (path: string, secondsAgo: number) => {
    const at = new Date(Date.now() - secondsAgo * 1000);
    utimesSync(path, at, at);
  };

  beforeEach(() => {
    // A project of one source file, built with this repository's TypeScript.
    project = mkdtempSync(join(tmpdir(), 'offline-sync-build-'));
    symlinkSync(join(repoRoot, 'node_modules'), join(project, 'node_modules'), 'dir');
    writeFileSync(join(project, 'package.json'), '{ "private": true }\n');
    writeFileSync(
      join(project, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: { outDir: 'dist', rootDir: '.', types: [], lib: ['ES2022'], skipLibCheck: true },
      }),
    );
    writeFileSync(
      join(project, 'tsconfig.build.json'),
      JSON.stringify({ extends: './tsconfig.json', include: ['src'], exclude: ['dist', '**/*.test.ts'] }),
    );
    mkdirSync(join(project, 'src'));
    writeFileSync(join(project, 'src', 'a.ts'), 'export const a: number = 1;\n');
    writeFileSync(join(project, 'src', 'a.test.ts'), 'export const t = 1;\n');
  });
  afterEach(() => rmSync(project, { recursive: true, force: true }));

  it('builds when there is no build yet, then not again while no source is newer', () => {
    run('--if-stale');
    expect(existsSync(output())).toBe(true);
    // Had tsc run again, it would have written the output again.
    rmSync(output());
    run('--if-stale');
    expect(existsSync(output())).toBe(false);
  });

  it('builds again once a source, the build config or a config it extends is newer than the last build', () => {
    for (const changed of ['src/a.ts', 'tsconfig.build.json', 'tsconfig.json']) {
      for (const file of ['src/a.ts', 'src/a.test.ts', 'tsconfig.build.json', 'tsconfig.json'])
        age(join(project, file), 60);
      run('--if-stale');
      rmSync(output());
      utimesSync(join(project, changed), new Date(), new Date());
      run('--if-stale');
      expect([changed, existsSync(output())]).toEqual([changed, true]);
    }
  });

  it('ignores what the build excludes (tests), and always builds without --if-stale', () => {
    age(join(project, 'src', 'a.ts'), 60);
    run('--if-stale');
    rmSync(output());
    utimesSync(join(project, 'src', 'a.test.ts'), new Date(), new Date());
    run('--if-stale');
    expect(existsSync(output())).toBe(false);
    run();
    expect(existsSync(output())).toBe(true);
  });

  it('fails with tsc, leaving the build stale', () => {
    writeFileSync(join(project, 'src', 'a.ts'), 'export const a: number = "one";\n');
    expect(() => run('--if-stale')).toThrow();
    expect(existsSync(join(project, 'dist', '.build-stamp'))).toBe(false);
  });
});
