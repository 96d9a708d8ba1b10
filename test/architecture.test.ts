/**
 * The shape of src/ that ARCHITECTURE.md describes, checked on the sources' own import statements
 * (TypeScript's parser, so comments and strings never count): dependencies point one way, from the
 * CLI and HTTP down to the domain and from the domain down to storage and pure helpers.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';
import { ROOT } from './support/cli.ts';

const SRC = join(ROOT, 'src');

/**
 * Lowest first. Every unit is a folder of src/ (no file lies loose at its top); a folder may import
 * its own layer's folders and lower ones.
 */
const LAYERS: string[][] = [
  ['shared'],
  ['contract'],
  ['config'],
  ['platform'],
  ['messages'],
  ['delivery'],
  ['otp'],
  ['accounts'],
  ['http'],
  ['dev-inbox'],
  ['runtime'],
  ['cli'],
];

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sourceFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

/** Every relative import of src/, as [importing file, imported file], both relative to src/. */
function imports(): Array<[string, string]> {
  return sourceFiles(SRC).flatMap((file) =>
    ts
      .preProcessFile(readFileSync(file, 'utf8'), true, true)
      .importedFiles.filter((i) => i.fileName.startsWith('.'))
      .map((i): [string, string] => [relative(SRC, file), relative(SRC, resolve(dirname(file), i.fileName))]),
  );
}

const unitOf = (path: string) => path.split('/')[0];
const layerOf = (unit: string) => LAYERS.findIndex((layer) => layer.includes(unit));

describe('architecture', () => {
  const edges = imports();

  it('places every file and folder of src/ in a layer', () => {
    const units = new Set(sourceFiles(SRC).map((f) => unitOf(relative(SRC, f))));
    assert.deepEqual(
      [...units].filter((u) => layerOf(u) < 0),
      [],
      'add them to LAYERS here and to ARCHITECTURE.md',
    );
  });

  it('no import points up a layer', () => {
    const upward = edges
      .filter(([from, to]) => layerOf(unitOf(to)) > layerOf(unitOf(from)))
      .map(([from, to]) => `${from} → ${to}`);
    assert.deepEqual(upward, []);
  });

  it('no two files or folders of src/ import each other, directly or round a circle', () => {
    const graph = new Map<string, Set<string>>();
    for (const [from, to] of edges) {
      const [a, b] = [unitOf(from), unitOf(to)];
      if (a !== b) graph.set(a, (graph.get(a) ?? new Set()).add(b));
    }
    const reaches = (start: string, goal: string, seen = new Set<string>()): boolean =>
      [...(graph.get(start) ?? [])].some(
        (next) => next === goal || (!seen.has(next) && (seen.add(next), reaches(next, goal, seen))),
      );
    const circles = [...graph.keys()].filter((unit) => reaches(unit, unit));
    assert.deepEqual(circles, []);
  });

  it('no route module imports another: what two routes share lives below them', () => {
    const between = edges
      .filter(([from, to]) => from.startsWith('http/routes/') && to.startsWith('http/routes/'))
      .map(([from, to]) => `${from} → ${to}`);
    assert.deepEqual(between, []);
  });
});
