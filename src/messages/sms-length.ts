import { SegmentedMessage } from 'sms-segments-calculator';

/** What an SMS costs: its encoding (GSM-7, or UCS-2 once one character is outside GSM-7) and its segments. */
export interface SmsLength {
  encoding: 'GSM-7' | 'UCS-2';
  /** Characters as the network counts them (a GSM-7 extension character such as € counts two). */
  characters: number;
  segments: number;
}

/** Measured as Twilio's own segment calculator measures it. */
export function smsLength(text: string): SmsLength {
  const m = new SegmentedMessage(text, 'auto');
  const encoding = m.getEncodingName() === 'GSM-7' ? 'GSM-7' : 'UCS-2';
  return { encoding, characters: m.numberOfCharacters, segments: m.segmentsCount };
}
