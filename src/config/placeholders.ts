/** Values copied from an example file rather than set for real (the first root cause of lost codes). */
const PLACEHOLDER =
  /^(your[-_ ]|<.*>$|changeme$|change[-_ ]?me|example|placeholder|xxx+|todo$|replace[-_ ]?me)|your_account_sid|YOUR_ACCOUNT_SID|example\.(com|org|net)/i;

export function isPlaceholder(value: string | undefined): boolean {
  if (value === undefined || value.trim() === '') return true;
  return PLACEHOLDER.test(value.trim());
}

/** 'missing' (unset), 'placeholder' (looks copied from an example) or 'set'. */
export type SettingState = 'missing' | 'placeholder' | 'set';

export function settingState(value: string | undefined): SettingState {
  if (value === undefined || value.trim() === '') return 'missing';
  return isPlaceholder(value) ? 'placeholder' : 'set';
}
