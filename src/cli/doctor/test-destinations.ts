import type { Config } from '../../config/settings.ts';
import { expiredTestDestinations } from '../../config/test-destinations.ts';
import { fail, warn, type Check } from './types.ts';

const NAME = 'test-destinations';

/**
 * A line only when TEST_OTP_DESTINATIONS is set: a warning naming the destinations (never their codes)
 * and until when; a failure once TEST_OTP_VALID_UNTIL is over, since the service then refuses to start.
 */
export function checkTestDestinations(config: Config, now: Date = new Date()): Check | undefined {
  const count = config.TEST_OTP_DESTINATIONS.size;
  if (!count) return undefined;
  const listed = `${[...config.TEST_OTP_DESTINATIONS.keys()].join(', ')} (codes not shown)`;
  const expired = expiredTestDestinations(config, now);
  if (expired) {
    return fail(
      NAME,
      `TEST_OTP_VALID_UNTIL=${config.TEST_OTP_VALID_UNTIL} is over, and TEST_OTP_DESTINATIONS still lists ${listed}: the service refuses to start`,
      'Remove TEST_OTP_DESTINATIONS now the review is over, or set TEST_OTP_VALID_UNTIL to the last day of a new review (YYYY-MM-DD, UTC).',
    );
  }
  const until = config.TEST_OTP_VALID_UNTIL
    ? `until ${config.TEST_OTP_VALID_UNTIL} (that day included, UTC)`
    : 'with no end date (development)';
  return warn(
    NAME,
    `${count} test destination${count === 1 ? '' : 's'} get a fixed code and are sent nothing, ${until}: ${listed}`,
    "For an app-store review only: remove TEST_OTP_DESTINATIONS once it is over (a reviewer's destination left in it is a way into its account).",
  );
}
