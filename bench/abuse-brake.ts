/**
 * Issue 18 (1), "SMS off for everyone", against a running service with its own limits: cheap accounts
 * from many networks fill SMS_MAX_PER_HOUR, then a new person on another network and an unlock to a
 * verified phone ask for their codes. The attack itself is test/support/sms-brake-attack.ts (the test
 * runs it scaled down); this prints it. The service's SMS counters must be unspent this hour, and
 * its clients are told apart by their own loopback address (127.1.n.1, network n), not a forwarded one.
 */
import { runBrakeAttack, statuses, type BrakeTarget } from '../test/support/sms-brake-attack.ts';

export interface BrakeAttackSettings {
  /** The service's SMS_MAX_PER_HOUR. */
  ceiling: number;
  /** Networks the attacker asks from; 25 unless said. */
  networks?: number;
}

export async function brakeAttack(target: BrakeTarget, settings: BrakeAttackSettings): Promise<string[]> {
  const networks = settings.networks ?? 25;
  // Enough accounts (4 numbers each) to ask 20 % past the ceiling in two ranges.
  const concentrated = Math.ceil((settings.ceiling * 1.2) / 4);
  const started = performance.now();
  const r = await runBrakeAttack(target, { concentrated, networks, timeoutMs: 30_000 });
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  const answer = (a: { status: number; sms: boolean }) => `${a.status}, ${a.sms ? 'SMS arrived' : 'no SMS'}`;
  return [
    `SMS brake (ceiling ${settings.ceiling}/h): ${concentrated + networks} cheap accounts from ${networks} networks, ${seconds} s`,
    `  numbers in two ranges: ${r.concentrated.sms} SMS to the attacker (answers: ${statuses(r.concentrated.answers)})`,
    `  then a range per number, one account per network: ${r.spread.sms} SMS to the attacker (answers: ${statuses(r.spread.answers)})`,
    `  a new person on another network, +27 72…: verify-phone ${answer(r.newPerson)}${r.newPerson.retryAfter ? ` (Retry-After ${r.newPerson.retryAfter})` : ''}`,
    `  unlock by SMS to a verified phone in an attacked range: ${answer(r.unlock)}; its own verify-phone from an attacker's network: ${answer(r.provenResend)}`,
  ];
}
