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
  ['dev-inbox', 'console'],
  ['runtime'],
  ['cli'],
];

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sourceFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

/** The service container: functions of every layer name the part of it they take, as a type. */
const CONTAINER = 'runtime/services.ts';

interface Edge {
  from: string;
  to: string;
  /** `import type { … }`: nothing of it exists at run time. */
  typeOnly: boolean;
}

/** Every relative import (and re-export) of src/, both ends relative to src/. */
function imports(): Edge[] {
  return sourceFiles(SRC).flatMap((file) => {
    const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest);
    return source.statements.flatMap((s): Edge[] => {
      if (!(ts.isImportDeclaration(s) || ts.isExportDeclaration(s)) || !s.moduleSpecifier) return [];
      const spec = (s.moduleSpecifier as ts.StringLiteral).text;
      if (!spec.startsWith('.')) return [];
      const typeOnly = ts.isImportDeclaration(s) ? !!s.importClause?.isTypeOnly : s.isTypeOnly;
      return [{ from: relative(SRC, file), to: relative(SRC, resolve(dirname(file), spec)), typeOnly }];
    });
  });
}

/** Edges that count for the layers: all but a type-only import of the container. */
const layered = (edges: Edge[]) => edges.filter((e) => !(e.to === CONTAINER && e.typeOnly));

const unitOf = (path: string) => path.split('/')[0];
const layerOf = (unit: string) => LAYERS.findIndex((layer) => layer.includes(unit));

describe('architecture', () => {
  const all = imports();
  const edges = layered(all);

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
      .filter(({ from, to }) => layerOf(unitOf(to)) > layerOf(unitOf(from)))
      .map(({ from, to }) => `${from} → ${to}`);
    assert.deepEqual(upward, []);
  });

  it('no two files or folders of src/ import each other, directly or round a circle', () => {
    const graph = new Map<string, Set<string>>();
    for (const { from, to } of edges) {
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
      .filter(({ from, to }) => from.startsWith('http/routes/') && to.startsWith('http/routes/'))
      .map(({ from, to }) => `${from} → ${to}`);
    assert.deepEqual(between, []);
  });

  it('the container crosses layers as a type only, and imports nothing but types itself', () => {
    const valueImports = all.filter((e) => e.to === CONTAINER && !e.typeOnly).map((e) => e.from);
    assert.deepEqual(valueImports, []);
    const ownValues = all.filter((e) => e.from === CONTAINER && !e.typeOnly).map((e) => e.to);
    assert.deepEqual(ownValues, []);
  });

  it('the domain and the routes take services one way: no FlowContext, no positional (db, config, …, now)', () => {
    const files = sourceFiles(SRC).filter((f) => /\/(accounts|otp|http)\//.test(f));
    const positional = files.filter((f) => /\(\s*\w+\.db,\s*\w+\.config,/.test(readFileSync(f, 'utf8')));
    assert.deepEqual(
      positional.map((f) => relative(SRC, f)),
      [],
    );
  });

  it('no domain sentence names an HTTP route: the domain names the next step, the edge its route', () => {
    // The one route the domain must know: the StatusCallback URL a Twilio send asks the provider to call.
    const allowed = new Set(['delivery/channels/twilio.ts']);
    // contract/ is the API's own description: its routes are what it describes.
    const below = new Set(
      LAYERS.slice(0, layerOf('accounts') + 1)
        .flat()
        .filter((unit) => unit !== 'contract'),
    );
    const named = sourceFiles(SRC)
      .map((f) => relative(SRC, f))
      .filter((f) => below.has(unitOf(f)) && !allowed.has(f))
      .flatMap((f) => {
        const found: string[] = [];
        const visit = (node: ts.Node): void => {
          if ((ts.isStringLiteral(node) || ts.isTemplateLiteral(node)) && /\/api\/v1\//.test(node.getText()))
            found.push(`${f}: ${node.getText().slice(0, 80)}`);
          ts.forEachChild(node, visit);
        };
        visit(ts.createSourceFile(f, readFileSync(join(SRC, f), 'utf8'), ts.ScriptTarget.Latest, true));
        return found;
      });
    assert.deepEqual(named, []);
  });
});
