import { relative } from 'node:path';
import type { Config } from '../../config/settings.ts';
import { checkTemplates, type TemplateProblem } from '../../messages/template-checks.ts';
import { BUILT_IN_TEMPLATES, loadTemplates, TemplateError } from '../../messages/templates.ts';
import { fail, ok, warn, type Check } from './types.ts';

const NAME = 'templates';

/**
 * The templates messages are written from, checked as the service checks them at start (a broken
 * one stops it) and for what only costs: an SMS over one segment, files the layout ignores. A line
 * only when TEMPLATES_DIR is set or the built-in templates have a problem with this configuration
 * (a long APP_NAME or PUBLIC_URL host can push an SMS past one segment).
 */
export function checkTemplateFiles(config: Config): Check | undefined {
  let problems: TemplateProblem[];
  try {
    problems = checkTemplates(loadTemplates(config.TEMPLATES_DIR), config);
  } catch (err) {
    if (!(err instanceof TemplateError)) throw err;
    return fail(
      NAME,
      err.message,
      'Fix the file it names (Mustache syntax: {{variable}}, {{#section}}…{{/section}}, {{> partial}}), then run doctor again.',
    );
  }
  const dir = config.TEMPLATES_DIR;
  if (!dir && problems.length === 0) return undefined;
  const where = (file: string) =>
    dir && !relative(dir, file).startsWith('..')
      ? relative(dir, file)
      : `built-in ${relative(BUILT_IN_TEMPLATES, file)}`;
  const listed = problems.map((p) => `${where(p.file)}: ${p.problem}`).join('; ');
  if (problems.some((p) => p.severity === 'fail')) {
    return fail(
      NAME,
      `The service will not start with these templates: ${listed}`,
      'Every message needs {{code}}, and only these variables exist: first_name, code, expires_in_minutes, app_name, support_url.',
    );
  }
  if (problems.length) {
    return warn(
      NAME,
      listed,
      'Shorten the SMS templates (or APP_NAME) to one GSM-7 segment of 160 characters, and rename or remove the files doctor says are ignored.',
    );
  }
  return ok(
    NAME,
    `TEMPLATES_DIR ${dir}: every template has its code and known variables, and every SMS fits one segment`,
  );
}
