import type { Config } from '../../config/settings.ts';
import { refusedTestDestinations } from '../../config/test-destinations.ts';
import { fail, warn, type Check } from './types.ts';

const NAME = 'test-destinations';

/**
 * A line only when TEST_OTP_DESTINATIONS is set: a warning naming the destinations (never their codes)
 * and until when; a failure, in the service's own words, when the service refuses to start with them
 * (TEST_OTP_VALID_UNTIL over, or outside development too far ahead).
 */
export function checkTestDestinations(config: Config, now: Date = new Date()): Check | undefined {
  const count = config.TEST_OTP_DESTINATIONS.size;
  if (!count) return undefined;
  const listed = `${[...config.TEST_OTP_DESTINATIONS.keys()].join(', ')} (codes not shown)`;
  const refused = refusedTestDestinations(config, now);
  if (refused) {
    return fail(
      NAME,
      `${refused.problem} TEST_OTP_DESTINATIONS lists ${listed}: the service refuses to start`,
      refused.fix,
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
