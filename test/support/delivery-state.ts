import assert from 'node:assert/strict';
import type { ChannelState } from '../../src/delivery/delivery-log.ts';
import type { Channel } from '../../src/shared/vocabulary.ts';
import type { Stack } from './stack.ts';

/**
 * One channel's state as GET /api/v1/admin/delivery answers it (asserted 200). The route's schema
 * leaves the channels untyped, so they are read as what the route serves, deliveryState's ChannelState.
 */
export async function channelState(stack: Stack, channel: Channel, adminToken: string): Promise<ChannelState> {
  const res = await stack.api('GET', '/api/v1/admin/delivery', undefined, adminToken);
  assert.equal(res.status, 200, res.text);
  const state = (res.body.channels as ChannelState[]).find((c) => c.channel === channel);
  assert.ok(state, `no ${channel} channel in ${res.text}`);
  return state;
}
