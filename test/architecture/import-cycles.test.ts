import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { findCycles, relativeImports, sourceFiles, SRC } from './imports.js';

describe('the import graph of src/', () => {
  it('has no cycles', () => {
    const files = sourceFiles(SRC);
    const graph = new Map(files.map((file) => [file, relativeImports(file, readFileSync(file, 'utf8'))]));
    expect(files.length).toBeGreaterThan(30);
    expect([...graph.values()].flat().length).toBeGreaterThan(100); // the parser does find imports
    expect(findCycles(graph)).toEqual([]);
  });

  it('the checker itself finds a planted cycle, including type-only and multi-line imports', () => {
    const a = join(SRC, 'a.ts');
    const b = join(SRC, 'b.ts');
    const c = join(SRC, 'c.ts');
    const graph = new Map([
      [a, relativeImports(a, "import type {\n  B,\n} from './b.js';")],
      [b, relativeImports(b, "export { C } from './c.js';")],
      [c, relativeImports(c, "import { A } from './a.js';")],
    ]);
    expect(findCycles(graph)).toEqual([['a.ts', 'b.ts', 'c.ts', 'a.ts']]);
  });
});
