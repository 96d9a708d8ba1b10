import type { Config } from '../config/settings.ts';
import { createComposer, type Composer } from './compose.ts';
import { checkTemplates, refuseBrokenTemplates } from './template-checks.ts';
import { loadTemplates } from './templates.ts';

/** The service's writer of messages: the built-in templates and TEMPLATES_DIR's, refused (TemplateError) when one would send a broken message. */
export function loadComposer(config: Config): Composer {
  const templates = loadTemplates(config.TEMPLATES_DIR);
  refuseBrokenTemplates(checkTemplates(templates, config, { measureSms: false }));
  return createComposer(templates, config);
}
