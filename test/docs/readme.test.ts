import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { routes } from '../../functions/routes';

/** The README is the front door: it must document every route the route table serves. */
describe('README', () => {
  const readme = readFileSync(join(__dirname, '../../README.md'), 'utf8');
  const tableLines = readme.split('\n').filter((line) => line.startsWith('| `'));

  it.each(routes.map((r) => [`${r.method} /${r.route}`, r] as const))('documents %s', (_name, route) => {
    const path = `/${route.route}`;
    const line = tableLines.find(
      (l) => l.includes(`${path}\``) || l.includes(`${path}?`) || l.includes(`${path}\`,`),
    );
    expect(line).toBeDefined();
    expect(line).toMatch(new RegExp(`\\b${route.method}\\b`));
  });

  it('gives the commands that start the backend and run the tests', () => {
    expect(readme).toContain('npm start');
    expect(readme).toContain('npm test');
    expect(readme).toContain('npm ci');
  });
});
