/**
 * One lane of `npm test` (test/run.ts): test files in one process, one after another. Each test
 * process spends seconds of CPU loading the module graph through tsx (about 1300 modules); a lane
 * loads it once for all its files.
 *
 * Started by test/run.ts, a lane asks it for its next file whenever the last one has ended, so that
 * lanes sharing one list end together; run by hand, it takes the files given as arguments.
 *
 * Each file is one suite named after it: its `after` hook tells when the file's tests have ended.
 */
import { after, describe } from 'node:test';
import { basename } from 'node:path';
import { reuseDatabases } from './pglite-template.ts';

export interface Ask {
  next: true;
}
export interface Answer {
  file: string | null;
}

const send = process.send?.bind(process);
const argv = process.argv.slice(2);
const next = (): Promise<string | undefined> =>
  send
    ? new Promise((resolve) => {
        process.once('message', (answer: Answer) => resolve(answer.file ?? undefined));
        send({ next: true } satisfies Ask);
      })
    : Promise.resolve(argv.shift());

// One process for many files: the in-memory databases of one file's tests serve the next ones.
const closeDatabases = reuseDatabases();
for (let file = await next(); file !== undefined; file = await next()) {
  const path = file;
  await new Promise<void>((ended) =>
    describe(basename(path), async () => {
      after(() => ended());
      await import(path);
    }),
  );
}
await closeDatabases();
if (process.connected) process.disconnect();
