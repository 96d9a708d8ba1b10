import type { Message } from '../platform/db/schema.ts';

/**
 * What the worker and the receipts tell a phone code's road (otp/road.ts decides where the code goes
 * next): delivery knows how a message ended, not which channel comes after it.
 */
/** What the road reads of a message: which code, on which channel, how it stands. */
export type RoadMessage = Pick<Message, 'id' | 'channel' | 'code_id' | 'status' | 'locale'> &
  Partial<Pick<Message, 'waits_for'>>;

export interface Road {
  /** Accepted by its provider: where receipts come back, the next channel waits its turn. */
  sent(message: RoadMessage): Promise<void>;
  /** It will not arrive (refused, failed, undelivered, unanswered): the code goes on the next channel now. */
  failed(message: RoadMessage, reason: string): Promise<void>;
  /** It arrived (delivered, read, a call answered): nothing more goes for its code. */
  delivered(message: RoadMessage): Promise<void>;
}

/** No road: a service without phone channels to move between (and tests of delivery alone). */
export const noRoad: Road = {
  async sent() {},
  async failed() {},
  async delivered() {},
};
