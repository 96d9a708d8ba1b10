import { Redis } from 'ioredis';
import type { Config } from '../../config/settings.ts';
import { errorCode, errorText, ok, warn, type Check } from './types.ts';

const NAME = 'redis';

/** host:port of a redis:// URL, never its password. */
function where(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname}:${u.port || 6379}`;
  } catch {
    return 'REDIS_URL';
  }
}

/** PING when REDIS_URL is set. A dead Redis does not stop the service (limits fall back to each process): a warning. */
export async function checkRedis(config: Config): Promise<Check> {
  if (!config.REDIS_URL)
    return ok(NAME, 'REDIS_URL not set: rate limits are counted in this process (fine for one instance)');
  const at = where(config.REDIS_URL);
  const redis = new Redis(config.REDIS_URL, {
    lazyConnect: true,
    connectTimeout: 5000,
    commandTimeout: 5000,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
  });
  // ioredis rejects connect() with a bare "Connection is closed."; the cause comes as an 'error' event
  let lastError: unknown;
  redis.on('error', (err) => {
    lastError = err;
  });
  try {
    await redis.connect();
    const pong = await redis.ping();
    return ok(NAME, `Redis at ${at} answers ${pong}: rate limits are shared by every instance`);
  } catch (thrown) {
    const err = lastError ?? thrown;
    const code = errorCode(err);
    const text = errorText(err);
    const auth = /NOAUTH|WRONGPASS|invalid password|invalid username/i.test(text);
    return warn(
      NAME,
      auth
        ? `Redis at ${at} refused the password in REDIS_URL (${text.split(' ')[0]}): rate limits fall back to each process`
        : `Redis not reachable at ${at} (${code ?? text}): rate limits fall back to each process, so instances do not share them`,
      auth
        ? 'Fix the user and password in REDIS_URL (redis://user:password@host:6379).'
        : 'Start Redis or fix REDIS_URL; with one instance you may also unset REDIS_URL.',
    );
  } finally {
    redis.disconnect();
  }
}
