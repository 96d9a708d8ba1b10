import type { ProviderError } from './channels/types.ts';

/** The most an event keeps of one text: its error, and a provider's error written as JSON. */
export const EVENT_TEXT_MAX = 1000;

/**
 * A provider's error as an event keeps it: whole when its JSON fits in `max` characters; else with
 * its longest texts cut (each ending in …) until it fits, so the code and status next to them stay;
 * else (a provider that answered with a long list) its JSON's beginning, as `{ cut }`.
 */
export function keptProviderError(original: ProviderError, max = EVENT_TEXT_MAX): ProviderError {
  if (JSON.stringify(original).length <= max) return original;
  for (let longest = max; longest >= 16; longest = Math.floor(longest / 2)) {
    const shortened = cutTexts(original, longest) as ProviderError;
    if (JSON.stringify(shortened).length <= max) return shortened;
  }
  let text = JSON.stringify(original).slice(0, max);
  while (JSON.stringify({ cut: text }).length > max) text = text.slice(0, -16);
  return { cut: text };
}

function cutTexts(value: unknown, longest: number): unknown {
  if (typeof value === 'string') return value.length > longest ? `${value.slice(0, longest - 1)}…` : value;
  if (Array.isArray(value)) return value.map((v) => cutTexts(v, longest));
  if (value && typeof value === 'object')
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, cutTexts(v, longest)]));
  return value;
}
