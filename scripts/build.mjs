// Builds the project (`tsc -p tsconfig.build.json`) and the admin page (Vite: admin-ui/ into
// dist/console/), and records when, so the CLI commands can start at once when nothing changed since:
//
//   node scripts/build.mjs             build (npm run build)
//   node scripts/build.mjs --if-stale  build only what a source newer than its last build changed (npm
//                                      run token, cli, device, start, bench)
//   node scripts/build.mjs --console   the admin page only (with --if-stale: only if stale; the
//                                      browser tests)
//
// The page is stale when a file under admin-ui/ or shared/ (it imports the server's schemas and rules)
// is newer than the stamp its last build left in dist/console/.
//
// "Newer" compares modification times: every file under the build config's `include` folders (less
// its `exclude`), the config and the configs it extends, against the stamp the last successful build
// left in its output folder. The stamp carries the time the build started, so a file saved while tsc
// ran counts as newer. Anything this script cannot read (a config it cannot parse) means: build.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';

const root = process.cwd();
const CONFIG = 'tsconfig.build.json';
const STAMP = '.build-stamp';

/** The config chain (the build config first, then what it extends), or undefined if unreadable. */
function readConfigChain(path) {
  const chain = [];
  for (let file = resolve(root, path); file !== undefined;) {
    let config;
    try {
      config = JSON.parse(readFileSync(file, 'utf8'));
    } catch {
      return undefined;
    }
    chain.push({ file, config });
    file = typeof config.extends === 'string' ? resolve(dirname(file), config.extends) : undefined;
  }
  return chain;
}

/** The first value of `key` along the chain (the build config's own wins). */
function first(chain, read) {
  for (const { config } of chain) {
    const value = read(config);
    if (value !== undefined) return value;
  }
  return undefined;
}

/** Newest modification time under `dir`, skipping what `skip` says (ms since the epoch). */
function newestUnder(dir, skip) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (skip(path, entry.isDirectory())) continue;
    newest = Math.max(newest, entry.isDirectory() ? newestUnder(path, skip) : statSync(path).mtimeMs);
  }
  return newest;
}

function isStale(chain, outDir) {
  const stamp = join(outDir, STAMP);
  if (!existsSync(stamp)) return true;
  const built = statSync(stamp).mtimeMs;
  const include = first(chain, (c) => c.include) ?? ['.'];
  const exclude = first(chain, (c) => c.exclude) ?? [];
  // `exclude` entries as this project writes them: folders (`test`, `dist`) and `**/*<suffix>`.
  const excludedDirs = new Set(
    [...exclude.filter((e) => !e.includes('*')), 'node_modules'].map((e) => resolve(root, e)),
  );
  excludedDirs.add(outDir);
  const excludedSuffixes = exclude.filter((e) => e.startsWith('**/*')).map((e) => e.slice(4));
  const skip = (path, isDirectory) =>
    isDirectory ? excludedDirs.has(path) : excludedSuffixes.some((suffix) => path.endsWith(suffix));
  let newest = Math.max(...chain.map(({ file }) => statSync(file).mtimeMs));
  for (const entry of include) {
    const path = resolve(root, entry);
    if (!existsSync(path)) continue;
    newest = Math.max(
      newest,
      statSync(path).isDirectory() ? newestUnder(path, skip) : statSync(path).mtimeMs,
    );
  }
  return newest > built;
}

function build(outDir) {
  const started = new Date();
  const require = createRequire(join(root, 'package.json'));
  const tsc = require.resolve('typescript/bin/tsc');
  const result = spawnSync(process.execPath, [tsc, '-p', CONFIG], { cwd: root, stdio: 'inherit' });
  if (result.status !== 0) return result.status ?? 1;
  const stamp = join(outDir, STAMP);
  writeFileSync(stamp, `${started.toISOString()}\n`);
  utimesSync(stamp, started, started);
  return 0;
}

/** The admin page: its sources, and the core it imports from. */
const CONSOLE_SOURCES = ['admin-ui', 'shared'];

function consoleIsStale(outDir) {
  const stamp = join(outDir, 'console', STAMP);
  if (!existsSync(stamp)) return true;
  const built = statSync(stamp).mtimeMs;
  const skip = (path, isDirectory) => isDirectory && path.endsWith('node_modules');
  const newest = Math.max(
    ...['package-lock.json', ...CONSOLE_SOURCES]
      .map((entry) => resolve(root, entry))
      .filter((path) => existsSync(path))
      .map((path) => (statSync(path).isDirectory() ? newestUnder(path, skip) : statSync(path).mtimeMs)),
  );
  return newest > built;
}

function buildConsole(outDir) {
  const started = new Date();
  const require = createRequire(join(root, 'package.json'));
  const vite = join(dirname(require.resolve('vite/package.json')), 'bin', 'vite.js');
  const result = spawnSync(process.execPath, [vite, 'build', '--config', 'admin-ui/vite.config.mjs'], {
    cwd: root,
    stdio: 'inherit',
  });
  if (result.status !== 0) return result.status ?? 1;
  const stamp = join(outDir, 'console', STAMP);
  writeFileSync(stamp, `${started.toISOString()}\n`);
  utimesSync(stamp, started, started);
  return 0;
}

const ifStale = process.argv.includes('--if-stale');
const consoleOnly = process.argv.includes('--console');
const chain = readConfigChain(CONFIG);
const declaring = chain?.find(({ config }) => config.compilerOptions?.outDir !== undefined);
const outDir = declaring
  ? resolve(dirname(declaring.file), declaring.config.compilerOptions.outDir)
  : resolve(root, 'dist');
let status = 0;
if (!consoleOnly && !(ifStale && chain !== undefined && !isStale(chain, outDir))) status = build(outDir);
// A project without the page (the build script's own tests) builds only its TypeScript.
const hasConsole = existsSync(join(root, 'admin-ui', 'vite.config.mjs'));
if (status === 0 && hasConsole && !(ifStale && !consoleIsStale(outDir))) status = buildConsole(outDir);
process.exit(status);
