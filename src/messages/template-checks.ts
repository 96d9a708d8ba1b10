import type { Config } from '../config/settings.ts';
import { FALLBACK_LOCALE, LOCALE_CODES, type Locale } from '../shared/locales.ts';
import { isNotice, MESSAGE_PURPOSES, type MessagePurpose } from '../shared/vocabulary.ts';
import { autofillLines } from './autofill.ts';
import { spokenCode } from './compose.ts';
import { smsLength } from './sms-length.ts';
import { templateFileName, type Part } from './template-files.ts';
import {
  CODE_VARIABLES,
  partsOf,
  TemplateError,
  variablesOf,
  type ChosenTemplate,
  type CodeView,
  type TemplateSet,
} from './templates.ts';

/** Something wrong with a template: `fail` stops the service from starting (the message would be broken), `warn` does not. */
export interface TemplateProblem {
  severity: 'fail' | 'warn';
  file: string;
  problem: string;
}

export type TemplateCheckSettings = Pick<
  Config,
  'APP_NAME' | 'SUPPORT_URL' | 'PUBLIC_URL' | 'ANDROID_APP_HASH' | 'OTP_LENGTH' | 'OTP_TTL_SECONDS'
>;

/** The longest first name registration takes (http/schemas.ts's Name): an SMS that names the person is measured with it. */
const LONGEST_NAME = 'M'.repeat(64);
/**
 * The same length in letters outside GSM-7, which Name takes too (Ж, ŋ, the ’ of O’Brien): one of them
 * makes the whole SMS UCS-2, 70 characters a segment, so a person picks how many segments it costs.
 */
const LONGEST_UCS2_NAME = 'Ж'.repeat(LONGEST_NAME.length);

/**
 * Every template the service may send checked the way doctor reports it: a variable it does not know,
 * a partial that does not exist, a message without its code (a notice with one), an SMS over one segment (with the
 * autofill lines and this configuration's values), files the layout ignores, and an operator's
 * English override that a built-in translation still bypasses. `measureSms: false` (the start, which
 * refuses only what is broken) leaves out the SMS lengths: Twilio's segment calculator is only a
 * warning's worth, and it cost the idle service 40 MiB of RSS more (measured: 307 → 237 MiB on Node 24).
 */
export function checkTemplates(
  templates: TemplateSet,
  settings: TemplateCheckSettings,
  { measureSms = true } = {},
): TemplateProblem[] {
  const problems: TemplateProblem[] = [];
  const code = '9'.repeat(settings.OTP_LENGTH);
  const minimal: CodeView = {
    code,
    spoken_code: spokenCode(code),
    expires_in_minutes: Math.ceil(settings.OTP_TTL_SECONDS / 60),
    app_name: settings.APP_NAME,
  };
  const full: CodeView = {
    ...minimal,
    first_name: LONGEST_NAME,
    support_url: settings.SUPPORT_URL ?? 'https://support.invalid',
  };

  const checkOne = (purpose: MessagePurpose, part: Part, template: ChosenTemplate) => {
    const report = (severity: TemplateProblem['severity'], problem: string) =>
      problems.push({ severity, file: template.file, problem });
    const { variables, missingPartials, recursivePartials } = templates.uses(template);
    if (recursivePartials.size) {
      // rendering it would never end: the other checks render it
      report(
        'fail',
        `partial ${[...recursivePartials].map((p) => `{{> ${p}}}`).join(', ')} includes itself: rendering it never ends`,
      );
      return;
    }
    const known = variablesOf(purpose);
    const unknown = [...variables].filter((v) => !known.includes(v));
    // a notice is not a code's message: a code variable there is a message that would go without its code
    const codeless = isNotice(purpose) ? unknown.filter((v) => (CODE_VARIABLES as readonly string[]).includes(v)) : [];
    if (codeless.length)
      report('fail', `${codeless.map((v) => `{{${v}}}`).join(', ')} would be empty: a notice carries no code`);
    const strange = unknown.filter((v) => !codeless.includes(v));
    if (strange.length)
      report(
        'fail',
        `unknown variable${strange.length > 1 ? 's' : ''} ${strange.map((v) => `{{${v}}}`).join(', ')} (known: ${known.join(', ')})`,
      );
    if (missingPartials.size)
      report('fail', `no partial ${[...missingPartials].map((p) => `{{> ${p}}}`).join(', ')} in partials/`);
    // a notice has no code to look for (its partials' variables were checked above)
    if (isNotice(purpose)) return;
    // a call speaks the code digit by digit ({{spoken_code}}); every other part shows it
    const shown = (view: CodeView) => (part === 'voice' ? view.spoken_code : view.code);
    if (
      part !== 'subject' &&
      ![minimal, full].every((view) => templates.render(template, view).includes(shown(view)))
    ) {
      report(
        'fail',
        part === 'voice'
          ? 'the code ({{spoken_code}}) is not in the words the call speaks'
          : 'the code ({{code}}) is not in the message it renders',
      );
    }
    if (part === 'sms' && measureSms) {
      const names = variables.has('first_name') ? [LONGEST_NAME, LONGEST_UCS2_NAME] : [undefined];
      const measure = (name: string | undefined) => ({
        name,
        ...smsLength(
          [templates.render(template, { ...full, first_name: name }).trim(), ...autofillLines(code, settings)].join(
            '\n',
          ),
        ),
      });
      const length = names.map(measure).reduce((a, b) => (b.segments > a.segments ? b : a));
      if (length.segments > 1) {
        const why =
          length.encoding === 'UCS-2' ? ' (a character outside GSM-7 makes it UCS-2: 70 characters a segment)' : '';
        const named =
          length.name === undefined
            ? ''
            : `, with a ${LONGEST_NAME.length}-letter first name${length.name === LONGEST_UCS2_NAME ? ' outside GSM-7 (as registration takes)' : ''}`;
        report(
          'warn',
          `the SMS is ${length.characters} characters${named}${length.encoding === 'UCS-2' ? ' in UCS-2' : ''}: ${length.segments} segments${why}, each billed`,
        );
      }
    }
  };

  for (const folder of templates.folders) {
    for (const [key, byLocale] of folder.templates) {
      const [purpose, part] = key.split('/') as [MessagePurpose, Part];
      for (const [locale, file] of byLocale) checkOne(purpose, part, { ...file, locale, override: folder.override });
    }
    for (const ignored of folder.ignored)
      problems.push({ severity: 'warn', file: ignored.file, problem: `ignored: ${ignored.why}` });
  }

  for (const purpose of Object.keys(MESSAGE_PURPOSES) as MessagePurpose[]) {
    for (const channel of MESSAGE_PURPOSES[purpose].channels) {
      for (const part of partsOf(channel)) {
        const english = templates.find(purpose, part, FALLBACK_LOCALE);
        if (!english) {
          problems.push({
            severity: 'fail',
            file: `${purpose}/${templateFileName(part, FALLBACK_LOCALE)}`,
            problem: `missing: ${purpose} ${isNotice(purpose) ? 'notices' : 'codes'} go by ${channel}`,
          });
          continue;
        }
        if (!english.override) continue;
        const builtIn = (l: Locale) => {
          const chosen = templates.find(purpose, part, l);
          return chosen?.locale === l && !chosen.override;
        };
        const bypassed = LOCALE_CODES.filter((l) => l !== FALLBACK_LOCALE && builtIn(l));
        if (bypassed.length) {
          problems.push({
            severity: 'warn',
            file: english.file,
            problem: `applies to English only: ${bypassed.map((l) => `${purpose}/${templateFileName(part, l)}`).join(', ')} still come${bypassed.length === 1 ? 's' : ''} from the built-in templates`,
          });
        }
      }
    }
  }
  return problems;
}

/** Throws the problems that stop the service from starting (a message would go out broken), all in one error. */
export function refuseBrokenTemplates(problems: TemplateProblem[]): void {
  const failing = problems.filter((p) => p.severity === 'fail');
  if (!failing.length) return;
  throw new TemplateError(
    `Templates that would send broken messages (panic-api doctor lists every template problem):\n  ${failing.map((p) => `${p.file}: ${p.problem}`).join('\n  ')}`,
  );
}
