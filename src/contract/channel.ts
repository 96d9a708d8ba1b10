import { Type } from 'typebox';
import { CHANNELS } from '../shared/vocabulary.ts';

/** A channel a code goes by, in an answer or a body: the words of vocabulary.ts. */
export const ChannelField = (options: { default?: (typeof CHANNELS)[number] } = {}) =>
  Type.Enum([...CHANNELS], options);
