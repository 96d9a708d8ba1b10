import type { Config } from '../config/settings.ts';

/**
 * The lines that let a phone fill the code in by itself, after the template's text: the Android app's
 * hash (SMS Retriever finds it anywhere), then the origin-bound line `@host #code`, which must be the
 * last line (Chrome's WebOTP, Safari's autofill).
 */
export function autofillLines(code: string, settings: Pick<Config, 'PUBLIC_URL' | 'ANDROID_APP_HASH'>): string[] {
  return [
    ...(settings.ANDROID_APP_HASH ? [settings.ANDROID_APP_HASH] : []),
    ...(settings.PUBLIC_URL ? [`@${new URL(settings.PUBLIC_URL).hostname} #${code}`] : []),
  ];
}
