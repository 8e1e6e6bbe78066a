import { readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';

/**
 * Reads the Bicep templates under `infra/` as text, for the infra tests. There is no Bicep compiler
 * in the test environment, so these readers understand only the layout our templates follow (one
 * statement per line, decorators directly above their `param`, blank lines between statements) and
 * throw on anything else rather than skip it, so a test cannot pass by not seeing a setting.
 */

export const repoRoot = join(__dirname, '..', '..');
export const infraDir = join(repoRoot, 'infra');

/** A source file under `infra/`, with its path relative to `infra/`. */
export interface InfraFile {
  path: string;
  text: string;
}

/** Every file under `infra/` (templates and parameter files), recursively. */
export function readInfraFiles(dir: string = infraDir): InfraFile[] {
  const files: InfraFile[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = join(dir, entry.name);
    if (entry.isDirectory()) files.push(...readInfraFiles(full));
    else files.push({ path: relative(infraDir, full), text: readFileSync(full, 'utf8') });
  }
  return files;
}

/** Every `.bicep` file under `infra/`. */
export function readBicepFiles(): InfraFile[] {
  return readInfraFiles().filter((f) => f.path.endsWith('.bicep'));
}

/** Reads one file under `infra/` by its relative path. */
export function readInfraFile(path: string): string {
  return readFileSync(join(infraDir, path), 'utf8');
}

/** A `param` declaration with the decorator lines written above it. */
export interface BicepParam {
  name: string;
  decorators: string;
  hasDefault: boolean;
}

const statementStart = /^(param|var|resource|module|output|targetScope|type|func|import|metadata)\b/;

/** The `param` declarations of a template, each with the decorator block directly above it. */
export function parseParams(text: string): BicepParam[] {
  const lines = text.split('\n');
  const params: BicepParam[] = [];
  lines.forEach((line, index) => {
    const match = /^param\s+(\w+)\s+\S+(\s*=\s*.+)?$/.exec(line.trimEnd());
    if (!match) return;
    const block: string[] = [];
    for (let i = index - 1; i >= 0; i--) {
      const above = lines[i]!;
      if (above.trim() === '' || statementStart.test(above) || above.trimStart().startsWith('//')) break;
      block.unshift(above);
    }
    params.push({ name: match[1]!, decorators: block.join('\n'), hasDefault: match[2] !== undefined });
  });
  return params;
}

/** Names of the `output` declarations of a template. */
export function parseOutputs(text: string): string[] {
  return [...text.matchAll(/^output\s+(\w+)\s/gm)].map((m) => m[1]!);
}

/** Lines from the one starting with `opening` up to the next line that is exactly `closing`. */
function block(text: string, opening: RegExp, closing: string): { header: string; body: string[] } {
  const lines = text.split('\n');
  const start = lines.findIndex((l) => opening.test(l));
  if (start < 0) throw new Error(`no line matches ${String(opening)}`);
  const end = lines.findIndex((l, i) => i > start && l.trimEnd() === closing);
  if (end < 0) throw new Error(`block ${String(opening)} is not closed by "${closing}"`);
  return { header: lines[start]!, body: lines.slice(start + 1, end) };
}

/**
 * The entries of a top-level object variable (`var name = { KEY: expression ... }`), in order:
 * name → Bicep expression as written. Comment lines are skipped; any other line that is not a
 * single `KEY: expression` entry is an error.
 */
export function parseObjectVariable(text: string, variable: string): Map<string, string> {
  const { body } = block(text, new RegExp(`^var\\s+${variable}\\s*=\\s*\\{\\s*$`), '}');
  const entries = new Map<string, string>();
  for (const line of body) {
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('//')) continue;
    const entry = /^([A-Za-z_][A-Za-z0-9_]*)\s*:\s*(.+)$/.exec(trimmed);
    if (!entry) throw new Error(`var ${variable}: cannot read the line "${trimmed}"`);
    if (entries.has(entry[1]!)) throw new Error(`var ${variable}: ${entry[1]} is set twice`);
    entries.set(entry[1]!, entry[2]!);
  }
  return entries;
}

/** The value of a Bicep single-quoted string literal without interpolation, else undefined. */
export function stringLiteral(expression: string): string | undefined {
  const match = /^'([^'\\$]*)'$/.exec(expression.trim());
  return match ? match[1] : undefined;
}

/** A `module` declaration: its symbol, its template path and the names of the params it passes. */
export interface BicepModuleUse {
  symbol: string;
  path: string;
  params: string[];
}

/** The modules a template declares, with the params each passes (entries of `params: { ... }`). */
export function parseModuleUses(text: string): BicepModuleUse[] {
  const uses: BicepModuleUse[] = [];
  for (const match of text.matchAll(/^module\s+(\w+)\s+'([^']+)'\s*=\s*\{\s*$/gm)) {
    const [, symbol, path] = match;
    const { body } = block(text.slice(match.index), /^module\s/, '}');
    const paramsBlock = block(body.join('\n'), /^\s{2}params:\s*\{\s*$/, '  }');
    const params = paramsBlock.body.map((line) => {
      const entry = /^\s{4}(\w+)\s*:/.exec(line);
      if (!entry) throw new Error(`module ${symbol}: cannot read the param line "${line.trim()}"`);
      return entry[1]!;
    });
    uses.push({ symbol: symbol!, path: path!, params });
  }
  return uses;
}

/** A role assignment resource (Azure RBAC or Cosmos DB SQL), with its body as text. */
export interface RoleAssignmentSource {
  file: string;
  symbol: string;
  type: string;
  body: string;
}

/** Every role assignment resource in the templates. */
export function findRoleAssignments(files: InfraFile[]): RoleAssignmentSource[] {
  const found: RoleAssignmentSource[] = [];
  for (const file of files) {
    for (const match of file.text.matchAll(
      /^resource\s+(\w+)\s+'([^']*[rR]oleAssignments@[^']+)'.*\{\s*$/gm,
    )) {
      const { body } = block(file.text.slice(match.index), /^resource\s/, '}');
      found.push({ file: file.path, symbol: match[1]!, type: match[2]!, body: body.join('\n') });
    }
  }
  return found;
}

/** Splits the arguments of a call at top-level commas: `guid(a.id, b, c)` → `['a.id', 'b', 'c']`. */
export function callArguments(expression: string, fn: string): string[] | undefined {
  const trimmed = expression.trim();
  if (!trimmed.startsWith(`${fn}(`) || !trimmed.endsWith(')')) return undefined;
  const inner = trimmed.slice(fn.length + 1, -1);
  const args: string[] = [];
  let depth = 0;
  let current = '';
  for (const ch of inner) {
    if (ch === '(' || ch === '[' || ch === '{') depth++;
    if (ch === ')' || ch === ']' || ch === '}') depth--;
    if (ch === ',' && depth === 0) {
      args.push(current.trim());
      current = '';
    } else {
      current += ch;
    }
  }
  args.push(current.trim());
  return args;
}

/** The expression a property is set to on its own line in a block (`  name: expression`). */
export function propertyValue(body: string, property: string): string | undefined {
  const match = new RegExp(`^\\s*${property}:\\s*(.+)$`, 'm').exec(body);
  return match?.[1]?.trim();
}
