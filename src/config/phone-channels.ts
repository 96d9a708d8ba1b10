// The metadata shared/addresses.ts loads: the default entry would load a second copy (its min metadata).
import { isSupportedCountry } from 'libphonenumber-js/max';
import { PHONE_CHANNELS, isPhoneChannel, type PhoneChannel } from '../shared/vocabulary.ts';

/** A phone code's channels in the order it takes them; per calling country (ISO 3166 code) where set. */
export interface PhoneRoads {
  default: readonly PhoneChannel[];
  byCountry: ReadonlyMap<string, readonly PhoneChannel[]>;
}

/** `whatsapp,sms,voice`: each a phone channel, each once; throws the sentence that names the mistake. */
export function parseChannelList(text: string): PhoneChannel[] {
  const names = text
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean);
  if (!names.length) throw new Error(`names no channel: list them in order, e.g. ${PHONE_CHANNELS.join(',')}`);
  const unknown = names.filter((n) => !isPhoneChannel(n));
  if (unknown.length)
    throw new Error(
      `${unknown.map((n) => `"${n}"`).join(', ')} ${unknown.length === 1 ? 'is not a phone channel' : 'are not phone channels'} (${PHONE_CHANNELS.join(', ')})`,
    );
  if (new Set(names).size !== names.length) throw new Error(`"${text}" names a channel twice`);
  return names as PhoneChannel[];
}

/** `ZA=whatsapp,sms,voice;NA=sms,voice`. */
export function parseChannelsByCountry(text: string | undefined): Map<string, PhoneChannel[]> {
  const byCountry = new Map<string, PhoneChannel[]>();
  for (const entry of (text ?? '').split(';').map((s) => s.trim())) {
    if (!entry) continue;
    const m = /^([A-Za-z]{2})\s*=\s*(.+)$/.exec(entry);
    if (!m) throw new Error(`"${entry}" is not COUNTRY=channel,channel (e.g. ZA=whatsapp,sms,voice)`);
    const country = m[1].toUpperCase();
    // a code no number belongs to would never match, silently
    if (!isSupportedCountry(country)) throw new Error(`${country} is not a country code (ISO 3166, e.g. ZA, NA, BW)`);
    if (byCountry.has(country)) throw new Error(`${country} is given twice`);
    byCountry.set(country, parseChannelList(m[2]));
  }
  return byCountry;
}
