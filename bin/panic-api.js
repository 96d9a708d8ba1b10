#!/usr/bin/env node
// Runs the compiled service and CLI (dist/, made by `npm run build`; `npm start` builds first).
import { existsSync } from 'node:fs';

const main = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(main)) {
  process.stderr.write('panic-api: not built yet: run `npm run build` in the checkout (npm start does it for you).\n');
  process.exit(1);
}
await import(main.href);
