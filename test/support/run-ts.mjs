// Runs a TypeScript entry point of this repository from its sources, for tests that start a CLI or a
// host as a child process without depending on a current `dist/` build:
//
//   node test/support/run-ts.mjs local/cli.ts device --org contoso …
//
// Each .ts file is transpiled on require with TypeScript's transpileModule (no type check: jest and
// tsc do that), to CommonJS as tsconfig.json says; the entry sees process.argv as if run by node.
import Module, { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const require = createRequire(import.meta.url);
const ts = require('typescript');
const { compilerOptions } = JSON.parse(readFileSync(join(root, 'tsconfig.json'), 'utf8'));
const options = {
  ...ts.convertCompilerOptionsFromJson(compilerOptions, root).options,
  module: ts.ModuleKind.CommonJS,
  sourceMap: false,
  inlineSourceMap: true,
};

Module._extensions['.ts'] = (module, filename) => {
  const { outputText } = ts.transpileModule(readFileSync(filename, 'utf8'), {
    compilerOptions: options,
    fileName: filename,
  });
  module._compile(outputText, filename);
};

const [entry, ...args] = process.argv.slice(2);
if (!entry) {
  console.error('Usage: node test/support/run-ts.mjs <file.ts> [args…]');
  process.exit(2);
}
const main = resolve(entry);
process.argv = [process.argv[0], main, ...args];
// Loaded as the main module (as `node <file>` would), so `require.main === module` holds in it.
Module._load(main, null, true);
