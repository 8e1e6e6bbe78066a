import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The product version, from package.json (read once). */
export const PRODUCT_VERSION: string = (() => {
  for (const up of ['..', '../..']) {
    try {
      const pkg = JSON.parse(readFileSync(join(__dirname, up, 'package.json'), 'utf8')) as {
        version?: string;
      };
      if (pkg.version) return pkg.version;
    } catch {
      // Not at this depth (source tree vs dist/): try the next.
    }
  }
  return '0.0.0';
})();
