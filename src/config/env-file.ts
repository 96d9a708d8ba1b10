import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseEnv } from 'node:util';

/** A `.env` that cannot be read or has a line that is not NAME=value: the command stops (exit 2). */
export class EnvFileError extends Error {}

export interface EnvFile {
  /** absolute path of the file read */
  path: string;
  /** the variables it sets (those already in the environment keep their own value) */
  names: string[];
}

const ASSIGNMENT = /^\s*(?:export\s+)?[A-Za-z_][A-Za-z0-9_]*\s*=\s*(.*)$/;
const QUOTES = ['"', "'", '`'];

/**
 * The lines of a .env text that are not blank, a # comment or NAME=value (a quoted value may span
 * lines until its closing quote). Node's own parser skips such lines without a word, which would
 * leave a setting silently unset.
 */
export function envFileProblems(text: string): string[] {
  const problems: string[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (line.trim() === '' || line.trimStart().startsWith('#')) continue;
    const value = ASSIGNMENT.exec(line)?.[1];
    if (value === undefined) {
      problems.push(`line ${i + 1}: "${line.trim().slice(0, 40)}" is not NAME=value`);
      continue;
    }
    const quote = value[0];
    if (!QUOTES.includes(quote) || value.indexOf(quote, 1) > 0) continue;
    const opened = i;
    while (++i < lines.length && !lines[i].includes(quote));
    if (i >= lines.length) problems.push(`line ${opened + 1}: the value opened with ${quote} is never closed`);
  }
  return problems;
}

/**
 * Reads `.env` from the directory (the working directory by default) into process.env with Node's
 * process.loadEnvFile, after checking every line. Variables already set win over the file; no file
 * is fine (undefined).
 */
export function loadEnvFile(dir: string = process.cwd()): EnvFile | undefined {
  const path = resolve(dir, '.env');
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new EnvFileError(`Cannot read ${path}: ${(err as Error).message}`, { cause: err });
  }
  const problems = envFileProblems(text);
  if (problems.length) {
    throw new EnvFileError(
      `${path} is not a valid .env file:\n  ${problems.join('\n  ')}\nEach line is NAME=value, a # comment or blank.`,
    );
  }
  process.loadEnvFile(path);
  return { path, names: Object.keys(parseEnv(text)) };
}
