import { resolve } from 'node:path';
import { CliError } from '../errors.ts';
import { authedRequest, writePrivateFile } from './session.ts';

const count = (n: number, what: string) => `${n} ${what}${n === 1 ? '' : 's'}`;

/** Why a file could not be written, in words: the errno's own message names the temporary file. */
function unwritable(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 'its folder does not exist';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  if (code === 'EISDIR') return 'it is a folder';
  return (err as Error).message;
}

/**
 * `export [--out FILE]`: everything the service holds about the signed-in person, the API's JSON
 * document as it is: on stdout, or in FILE, readable only by its owner (it is personal data), with a
 * line saying what it holds.
 */
export async function exportCommand(opts: { out?: string }): Promise<number> {
  const { body } = await authedRequest(false, (client) => client.GET('/api/v1/users/me/export'));
  const text = `${JSON.stringify(body, null, 2)}\n`;
  if (opts.out === undefined) {
    process.stdout.write(text);
    return 0;
  }
  const path = resolve(opts.out);
  try {
    await writePrivateFile(path, text);
  } catch (err) {
    throw new CliError(`Cannot write ${path}: ${unwritable(err)}.`, { cause: err });
  }
  const held = [
    `the account ${body.account.email}`,
    count(body.sessions.length, 'session'),
    count(body.events.length, 'account event'),
    count(body.messages.length, 'message'),
    count(body.codes.length, 'code'),
    count(body.suppressions.length, 'suppression'),
  ];
  process.stdout.write(
    `Your data is in ${path} (only you can read it): ${held.join(', ')}. It never holds a code itself, a password, a token or a message's text.\n`,
  );
  return 0;
}
