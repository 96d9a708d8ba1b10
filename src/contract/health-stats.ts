import { Type, type Static } from 'typebox';
import { CHANNELS } from '../shared/vocabulary.ts';
import { Nullable } from './nullable.ts';

const At = Type.String({ format: 'date-time' });

/** The windows the delivery health numbers are read over: a day by the hour, a week by the day. */
export const HEALTH_RANGES = { '24h': { buckets: 24, seconds: 3600 }, '7d': { buckets: 7, seconds: 86_400 } } as const;
export type HealthRange = keyof typeof HEALTH_RANGES;

const Breaker = Type.Object({
  provider: Type.String(),
  role: Type.Enum(['primary', 'fallback']),
  state: Type.Enum(['closed', 'open', 'half-open']),
  failures: Type.Integer(),
  open_until: Nullable(At),
  last_error: Nullable(Type.String()),
});

/** What GET /api/v1/admin/health-stats answers and the console's health page draws: read from the database, not from Prometheus. */
export const HealthStats = Type.Object({
  range: Type.Enum(Object.keys(HEALTH_RANGES) as HealthRange[]),
  bucket_seconds: Type.Integer({ description: '3600 (24h) or 86400 (7d)' }),
  buckets: Type.Array(At, {
    description: 'The start of each bucket, oldest first, whole UTC hours or days; the last one holds now.',
  }),
  series: Type.Array(
    Type.Object({
      channel: Type.Enum(CHANNELS),
      provider: Nullable(
        Type.String({ description: 'The provider of its latest attempt or receipt; null when none was tried' }),
      ),
      calling_code: Nullable(Type.String({ description: 'The calling code of the number ("27"); null for email' })),
      issued: Type.Array(Type.Integer(), {
        description:
          'Per bucket, codes queued on this channel (a code the road moves counts again on the next channel; a withdrawn step, never needed, does not count)',
      }),
      verified: Type.Array(Type.Integer(), {
        description:
          'Of those, the ones whose code was then used, counted on the channel that carried it last (bucketed by when it was queued)',
      }),
    }),
  ),
  channels: Type.Array(
    Type.Object({
      channel: Type.Enum(CHANNELS),
      provider: Type.String(),
      state: Type.Enum(['configured', 'placeholder', 'missing']),
      problem: Nullable(Type.String()),
      last_success_at: Nullable(At),
      last_error: Nullable(Type.String()),
      last_error_at: Nullable(At),
      queue_depth: Type.Integer({ description: 'Messages still to be sent (queued or sending)' }),
      oldest_queued_at: Nullable(At),
      breakers: Nullable(
        Type.Array(Breaker, {
          description: "With a second provider, each provider's circuit breaker, as this process sees it",
        }),
      ),
    }),
  ),
  queue: Type.Object({
    depth: Type.Integer(),
    oldest_queued_at: Nullable(At),
    oldest_age_seconds: Nullable(Type.Integer()),
  }),
});
export type HealthStats = Static<typeof HealthStats>;
