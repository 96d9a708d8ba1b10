import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { PGlite } from '@electric-sql/pglite';

/**
 * PostgreSQL's default 128 MB of shared buffers is sized for a server shared by many connections;
 * inside one process it is the largest part of the embedded database's memory (idle RSS 368 → 253
 * MiB with 16 MB). Queries of this service touch a few thousand pages at most.
 */
const START_PARAMS = [...PGlite.defaultStartParams, '-c', 'shared_buffers=16MB'];

/**
 * PGlite's WebAssembly module, compiled once per process from bytes nothing holds once V8 has copied
 * them. PGlite's own loading holds its 9.4 MiB read buffer through the compile, long enough for it to
 * reach the old generation, where an idle service kept it until V8's next full collection.
 *
 * V8 compiles PostgreSQL's hot functions again, optimized, in the background, by default on all of its
 * worker threads at once; each thread's malloc arena keeps the peak of what its compiles used (idle
 * RSS ~40 MiB more). One compile at a time runs the same optimized code, reached a little later.
 */
let pgliteModule: Promise<WebAssembly.Module> | undefined;
function compiledPglite(): Promise<WebAssembly.Module> {
  if (!pgliteModule) {
    setFlagsFromString('--wasm-num-compilation-tasks=1');
    pgliteModule = WebAssembly.compile(
      readFileSync(new URL('pglite.wasm', import.meta.resolve('@electric-sql/pglite'))),
    );
  }
  return pgliteModule;
}

/**
 * A new data folder is created (initdb) in a child process: initdb's WebAssembly instance is never
 * freed in the process that ran it (RSS stays ~600 MiB), and the child's ends with it.
 */
function createDataFolder(dataDir: string): Promise<void> {
  const code =
    'const { PGlite } = await import(process.argv[1]); await (await PGlite.create(process.argv[2])).close();';
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--input-type=module', '-e', code, import.meta.resolve('@electric-sql/pglite'), dataDir],
      {
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', reject);
    child.on('close', (status) =>
      status === 0
        ? resolve()
        : reject(new Error(`creating the PGlite data folder ${dataDir} failed (exit ${status}): ${stderr.trim()}`)),
    );
  });
}

/**
 * PGlite keeps its WebAssembly instance, and with it ~200 MiB of memory, reachable after close():
 * dropped once closed, it goes back to the system even while the closed database is still referenced
 * (a process that opens many, like the test suite, grew by that much for each).
 */
function releasedOnClose(pg: PGlite): PGlite {
  const close = pg.close.bind(pg);
  pg.close = async () => {
    await close();
    (pg as unknown as { mod?: unknown }).mod = undefined;
  };
  return pg;
}

/**
 * Opens the embedded database in dataDir ('memory://' for one that lives and dies with the process,
 * started from `template`, a dumpDataDir() of another, when given).
 */
export async function openPglite(dataDir: string, template?: Blob): Promise<PGlite> {
  const compiling = compiledPglite();
  // Options alone: PGlite.create(undefined, options) ignores its options.
  if (dataDir.startsWith('memory://'))
    return releasedOnClose(
      await PGlite.create({ startParams: START_PARAMS, pgliteWasmModule: await compiling, loadDataDir: template }),
    );
  mkdirSync(dataDir, { recursive: true });
  if (!existsSync(join(dataDir, 'PG_VERSION'))) await createDataFolder(dataDir);
  return releasedOnClose(
    await PGlite.create(dataDir, { startParams: START_PARAMS, pgliteWasmModule: await compiling }),
  );
}
