import { build } from 'esbuild';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { BROWSER_BUNDLE } from '../../tooling/web-page-server';

const root = join(__dirname, '..', '..');
const GZIP_BUDGET = 40 * 1024;

/** Bundles one SDK entry as an app's bundler would for a browser: minified, nothing external. */
async function bundle(entry: string) {
  const result = await build({
    ...BROWSER_BUNDLE,
    entryPoints: [join(root, entry)],
    minify: true,
    metafile: true,
  });
  const [output] = result.outputFiles;
  if (!output) throw new Error(`esbuild wrote nothing for ${entry}`);
  const imports = Object.values(result.metafile.inputs).flatMap((input) => input.imports.map((i) => i.path));
  return { code: output.contents, inputs: Object.keys(result.metafile.inputs), imports };
}

describe('the SDK in a browser bundle', () => {
  it(`the main entry resolves for --platform=browser with nothing Node-only, within ${GZIP_BUDGET / 1024} KB gzip`, async () => {
    const { code, inputs, imports } = await bundle('client/index.ts');
    expect(imports.filter((path) => path.startsWith('node:'))).toEqual([]);
    expect(inputs.filter((path) => /better-sqlite3|sqlite-local-store|sqlite-wasm|web-/.test(path))).toEqual(
      [],
    );
    expect(new TextDecoder().decode(code)).not.toMatch(/\brequire\(|from\s*["']node:/);
    expect(gzipSync(code).length).toBeLessThanOrEqual(GZIP_BUDGET);
  });

  it('the memory store entry bundles for the browser too', async () => {
    const { imports } = await bundle('client/memory.ts');
    expect(imports.filter((path) => path.startsWith('node:'))).toEqual([]);
  });

  it('the browser store entry and its worker bundle for the browser, SQLite in WebAssembly only in the worker', async () => {
    const page = await bundle('client/web.ts');
    expect(page.imports.filter((path) => path.startsWith('node:'))).toEqual([]);
    expect(page.inputs.filter((path) => /sqlite-wasm/.test(path))).toEqual([]);
    const worker = await bundle('client/web-worker.ts');
    expect(worker.inputs.filter((path) => /@sqlite\.org\/sqlite-wasm/.test(path))).not.toEqual([]);
  });

  it('a Node-only import in the graph fails the browser bundle (what the first test relies on)', async () => {
    await expect(bundle('client/sqlite.ts')).rejects.toThrow(/Could not resolve|node:|better-sqlite3/);
  });
});
