import type { Static, TObject, TSchema } from 'typebox';
import { Default, Errors } from 'typebox/value';

const TRUE_WORDS = ['true', '1', 'yes', 'on'];
const FALSE_WORDS = ['false', '0', 'no', 'off'];

/**
 * The value a variable's text stands for, by the type its schema declares. Stricter than TypeBox's
 * Convert (which truncates "6.5" to 6 and reads "" as 0) and than ajv's coerceTypes, which env-schema
 * uses (it reads "  " as 0 and knows only "true"/"false"). Text that does not convert stays text, so
 * validation refuses it by name.
 */
function fromText(schema: TSchema, text: string | undefined, optional: boolean): unknown {
  if (text === undefined) return undefined;
  const type = (schema as { type?: string }).type;
  if (type === 'integer' || type === 'number') {
    // `PORT=` (as compose passes an unset variable) means "not set", not 0.
    if (text.trim() === '') return undefined;
    const n = Number(text);
    return Number.isFinite(n) ? n : text;
  }
  if (type === 'boolean') {
    if (TRUE_WORDS.includes(text)) return true;
    if (FALSE_WORDS.includes(text)) return false;
    return text;
  }
  // A setting without a default may be blank in an env file: trimmed, blank is not set.
  if (optional) return text.trim() === '' ? undefined : text.trim();
  return text;
}

const oneOf = (values: readonly unknown[]) => `must be one of ${values.map((v) => JSON.stringify(v)).join('|')}`;

/** What a validation error says, with the allowed values when there is a list of them. */
function describe(error: ReturnType<typeof Errors>[number]): string {
  if (error.keyword === 'enum') return oneOf(error.params.allowedValues);
  if (error.keyword === 'type' && error.params.type === 'boolean') return oneOf([...TRUE_WORDS, ...FALSE_WORDS]);
  return error.message;
}

/**
 * Reads the variables `schema` declares from `env`: converted by their declared types, defaults
 * filled in, then validated. Problems name their variable, one line each, every bad variable at once.
 */
export function readEnv<T extends TObject>(
  schema: T,
  env: Record<string, string | undefined>,
): { value: Static<T>; problems: string[] } {
  const required = new Set(schema.required ?? []);
  const read: Record<string, unknown> = {};
  for (const [name, property] of Object.entries(schema.properties)) {
    const value = fromText(property, env[name], !required.has(name));
    if (value !== undefined) read[name] = value;
  }
  const value = Default(schema, read) as Static<T>;
  const problems = new Map<string, string>();
  for (const error of Errors(schema, value)) {
    const name = error.instancePath.replace(/^\//, '');
    // A union or refinement can fail several ways: the first says enough.
    if (!problems.has(name)) problems.set(name, `${name}: ${describe(error)}`);
  }
  return { value, problems: [...problems.values()] };
}
