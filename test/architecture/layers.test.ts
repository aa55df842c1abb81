import { readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { relativeImports, sourceFiles, SRC } from './imports.js';

/**
 * The layer rules of DESIGN.md's Architecture section, as an import matrix over src/.
 * Type-only imports count: a transport that names a store row type still depends on the store.
 */
type Layer = 'domain' | 'store' | 'whmcs' | 'charts' | 'service' | 'webhooks' | 'http' | 'slack' | 'cli' | 'main' | 'ground';

const GROUND_FLOOR = new Set(['config.ts', 'log.ts', 'metrics.ts']);

/** Which layer a file (relative to src/) belongs to; undefined for a file the rules do not place. */
export function layerOf(file: string): Layer | undefined {
  if (GROUND_FLOOR.has(file)) return 'ground';
  if (file === 'main.ts') return 'main';
  const folder = file.split('/')[0];
  // The binary (cli.ts) and its command groups, option parsing and help (src/cli/).
  if (file === 'cli.ts' || folder === 'cli') return 'cli';
  const layers: Layer[] = ['domain', 'store', 'whmcs', 'charts', 'service', 'webhooks', 'http', 'slack'];
  return layers.find((l) => l === folder);
}

/**
 * What each layer may import besides itself. Two readings the rules leave open:
 * the ground floor may use the pure domain (config.ts parses dates and time
 * zones with it), and the CLI may start the composition root (`promoset serve`).
 */
const ALLOWED: Record<Layer, ReadonlySet<Layer>> = {
  domain: new Set(),
  ground: new Set(['domain']),
  store: new Set(['domain', 'ground']),
  whmcs: new Set(['domain', 'ground']),
  // An outward port like whmcs: drawing (ECharts SVG, resvg PNG) that knows nothing of ours; service uses it.
  charts: new Set(),
  service: new Set(['domain', 'store', 'whmcs', 'charts', 'ground']),
  webhooks: new Set(['domain', 'store', 'ground']),
  http: new Set(['service', 'domain', 'ground']),
  slack: new Set(['service', 'domain', 'ground']),
  cli: new Set(['service', 'domain', 'ground', 'main']),
  main: new Set(['domain', 'store', 'whmcs', 'charts', 'service', 'webhooks', 'http', 'slack', 'ground']),
};

/** Every import that breaks a rule, as "from -> to", for files given as { path relative to src/: text }. */
export function layerViolations(files: Record<string, string>): string[] {
  const violations: string[] = [];
  for (const [file, text] of Object.entries(files)) {
    const from = layerOf(file);
    if (!from) {
      violations.push(`${file}: not in any layer`);
      continue;
    }
    for (const target of relativeImports(join(SRC, file), text)) {
      const to = relative(SRC, target);
      const toLayer = layerOf(to);
      if (toLayer === undefined) violations.push(`${file} -> ${to}: outside src/ or not in any layer`);
      else if (toLayer !== from && !ALLOWED[from].has(toLayer)) violations.push(`${file} -> ${to}`);
    }
  }
  return violations;
}

describe('the layer rules (DESIGN.md, Architecture)', () => {
  it('hold for every import in src/, type-only ones included', () => {
    const files = Object.fromEntries(sourceFiles(SRC).map((f) => [relative(SRC, f), readFileSync(f, 'utf8')]));
    expect(Object.keys(files).length).toBeGreaterThan(30);
    expect(layerViolations(files)).toEqual([]);
  });

  it('the checker fails on planted violations, type-only and multi-line imports included', () => {
    const planted = {
      'domain/a.ts': "import { log } from '../log.js';",
      'store/b.ts': "import type {\n  Thing,\n} from '../service/things.js';",
      'http/c.ts': "import type { Row } from '../store/schema.js';",
      'slack/d.ts': "export { route } from '../http/routing.js';",
      'service/e.ts': "import { start } from '../webhooks/dispatcher.js';",
      'cli.ts': "import { db } from './store/db.js';",
      'cli/h.ts': "import { listSets } from '../store/sets.js';",
      'log.ts': "import type { Core } from './service/core.js';",
      'webhooks/f.ts': "import { core } from '../service/core.js';",
      'whmcs/g.ts': "const m = await import('../store/db.js');",
    };
    expect(layerViolations(planted)).toEqual([
      'domain/a.ts -> log.ts',
      'store/b.ts -> service/things.ts',
      'http/c.ts -> store/schema.ts',
      'slack/d.ts -> http/routing.ts',
      'service/e.ts -> webhooks/dispatcher.ts',
      'cli.ts -> store/db.ts',
      'cli/h.ts -> store/sets.ts',
      'log.ts -> service/core.ts',
      'webhooks/f.ts -> service/core.ts',
      'whmcs/g.ts -> store/db.ts',
    ]);
  });

  it('the checker accepts what the rules allow', () => {
    const allowed = {
      'store/a.ts': "import type { Set } from '../domain/set.js';\nimport { config } from '../config.js';",
      'service/b.ts': "import { x } from '../store/a.js';\nimport { y } from '../whmcs/db.js';",
      'webhooks/c.ts': "import { z } from '../store/outbox.js';",
      'http/d.ts': "import { s } from '../service/b.js';\nimport { m } from '../metrics.js';",
      'main.ts': "import { h } from './http/d.js';\nimport { w } from './webhooks/c.js';",
      'cli/e.ts': "import { startService } from '../main.js';\nimport { out } from './context.js';\nimport { s } from '../service/b.js';",
    };
    expect(layerViolations(allowed)).toEqual([]);
  });
});
