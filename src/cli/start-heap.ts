import { setFlagsFromString } from 'node:v8';

/**
 * Keeps V8's new space (where objects are born) at its first size while `serve` or `worker` starts.
 * What starting makes (modules, routes, schemas) mostly lives on, and each collection that sees that
 * much survive doubles the new space, up to 2 × 16 MiB, which an idle process then holds, mostly
 * empty, until V8 notices the idling (half a minute and more). Once started, V8's default growth
 * (doubling) is back, so under load the new space grows as it always did.
 */
export function newSpaceHeldWhileStarting(): () => void {
  setFlagsFromString('--semi-space-growth-factor=1');
  return () => setFlagsFromString('--semi-space-growth-factor=2');
}
