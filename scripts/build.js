// `npm run build`: src/ compiled to dist/ by TypeScript 7 (the `typescript` package is 5.x for its JS
// API), then the pages of the dev inbox and the support console (src/dev-inbox/page/,
// src/console/page/, and the style they share, src/shared-page/) copied beside their modules, where
// their page.ts reads them. Plain JavaScript, so node runs it without tsx.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = (path) => fileURLToPath(new URL(`../${path}`, import.meta.url));

const compiler = root('node_modules/typescript-7/bin/tsc');
const tsc = spawnSync(process.execPath, [compiler, '-b', root('tsconfig.build.json')], { stdio: 'inherit' });
if (tsc.status !== 0) process.exit(tsc.status ?? 1);

// Test files build too, while servers of other test files read dist/: a file is replaced whole
// (written aside, then renamed) and only when it changed, so no reader meets one half written.
for (const page of ['dev-inbox/page', 'console/page', 'shared-page']) {
  const from = root(`src/${page}`);
  const to = root(`dist/${page}`);
  mkdirSync(to, { recursive: true });
  for (const name of readdirSync(from)) {
    const text = readFileSync(join(from, name));
    const target = join(to, name);
    if (existsSync(target) && readFileSync(target).equals(text)) continue;
    const aside = join(to, `.${name}.${process.pid}`);
    writeFileSync(aside, text);
    renameSync(aside, target);
  }
}
