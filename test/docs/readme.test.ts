import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../support/processes.js';

/** The README describes this repository in its own words, and stays up to date with the code it describes. */
const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');

function section(heading: string): string {
  const start = readme.indexOf(`\n${heading}\n`);
  if (start === -1) throw new Error(`README.md has no "${heading}" section`);
  const level = heading.split(' ')[0];
  const next = readme.slice(start + heading.length + 2).search(new RegExp(`\\n#{2,${level.length}} `));
  return readme.slice(start, next === -1 ? undefined : start + heading.length + 2 + next);
}

describe('README.md', () => {
  it('points to nothing outside the repository (no "seed 001/002", no ../shared)', () => {
    expect(readme).not.toMatch(/seed 00\d/i);
    expect(readme).not.toContain('../shared');
    // Every relative link names a file that is in the repository.
    for (const [, target] of readme.matchAll(/\]\((?!https?:|#|mailto:)([^)#]+)(?:#[^)]*)?\)/g)) expect(existsSync(join(ROOT, target)), target).toBe(true);
  });

  it('has a LICENSE file matching package.json', () => {
    expect(JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).license).toBe('MIT');
    expect(readFileSync(join(ROOT, 'LICENSE'), 'utf8')).toMatch(/^MIT License\n/);
  });

  it('the Layout section names every folder and top-level file of src/', () => {
    const layout = section('## Layout');
    for (const entry of readdirSync(join(ROOT, 'src'), { withFileTypes: true })) {
      const name = entry.isDirectory() ? `src/${entry.name}/` : `${entry.name}`;
      expect(layout, name).toContain(name);
    }
  });

  it('the /readyz section names every dependency the server probes', () => {
    const probes = new Set<string>();
    const walk = (dir: string) => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const path = join(dir, entry.name);
        if (entry.isDirectory()) walk(path);
        else for (const [, name] of readFileSync(path, 'utf8').matchAll(/(?:readiness\??|new Readiness\(\))\.add\('([a-z]+)'/g)) probes.add(name);
      }
    };
    walk(join(ROOT, 'src'));
    expect([...probes].sort()).toEqual(['database', 'slack', 'whmcs']);
    const health = section('### Health checks');
    for (const probe of probes) {
      expect(health, probe).toContain(`"${probe}":`);
      expect(health, probe).toMatch(new RegExp(`\`${probe}\` (\\([^)]*\\) )?is `));
    }
  });
});
