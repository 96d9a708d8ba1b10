/**
 * One lane of `npm test` (test/run.ts): the test files given as arguments, in one process, one after
 * another. Each test process spends seconds of CPU loading the module graph through tsx (about 1300
 * modules); a lane loads it once for all its files. node:test runs the top-level suites of the files
 * in the order the files were imported, one at a time.
 */
for (const file of process.argv.slice(2)) await import(file);
