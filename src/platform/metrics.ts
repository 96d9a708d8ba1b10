import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { RETENTION_TABLES } from './db/retention.ts';
import { callingCodeOf, isEmailAddress } from '../shared/addresses.ts';
import { CHANNELS, PHONE_CHANNELS, type BreakerPosition, type Channel } from '../shared/vocabulary.ts';

/**
 * The service's Prometheus metrics, one registry per runtime so several can live in one process.
 * Every label takes a bounded set of values, never a person's address, number or id: purposes,
 * channels, statuses, providers and refusal codes are our own words; a country is its calling code
 * (about 200); a reason is a code of the tables in delivery/reasons.ts or a status class; a route is
 * a route's pattern. deploy/grafana and deploy/prometheus read them (test/monitoring.test.ts checks
 * that every name they use is one of these).
 */
export interface Metrics {
  registry: Registry;
  /** Codes issued, by purpose and the channel they first took. */
  codesIssued: Counter<'purpose' | 'channel'>;
  codesChecked: Counter<'purpose' | 'result'>;
  messagesFinished: Counter<'channel' | 'status'>;
  sendSeconds: Histogram<'channel' | 'provider' | 'outcome'>;
  smsSent: Counter<'calling_code'>;
  smsVerified: Counter<'calling_code'>;
  smsBrakeRefusals: Counter<'part'>;
  /** Phone codes issued by their first channel, and verified by the channel that carried them, per calling code. */
  phoneCodes: Counter<'first_channel' | 'calling_code'>;
  phoneVerified: Counter<'first_channel' | 'channel' | 'calling_code'>;
  /** A code moved from one channel to the next, and why (refused, undelivered, no receipt, asked). */
  phoneMoves: Counter<'from' | 'to' | 'reason'>;
  retentionRowsRemoved: Counter<'table'>;
  /** What became of messages after the provider took them (receipts), and those never sent to a suppressed address. */
  outcomes: Counter<'channel' | 'provider' | 'status' | 'destination'>;
  queuedToDelivered: Histogram<'channel' | 'provider'>;
  /** Sends that did not go through (`stage` attempt: each failed try, retried or not) and receipts of failure (`stage` receipt), by reason. */
  deliveryFailures: Counter<'channel' | 'provider' | 'stage' | 'reason'>;
  /** Each HTTP request answered: its method, its route's pattern (`unmatched` for none) and the class of its status. */
  httpSeconds: Histogram<'method' | 'route' | 'status_class'>;
  /** Webhook requests by endpoint (host and path) and outcome: delivered (a 2xx), failed (anything else; it is tried again). */
  webhookDeliveries: Counter<'endpoint' | 'outcome'>;
  /** A recipient's destination label: its country calling code, or its email domain while fewer than MAX_DOMAIN_LABELS are in use ("other" after). */
  destination(recipient: string): string;
}

/** The parts of the SMS brake a refusal is counted under (src/otp/sms-budget.ts). */
export const BRAKE_PARTS = ['proven_network', 'new_network', 'new_range'] as const;
export type BrakePart = (typeof BRAKE_PARTS)[number];

/** Distinct email domains a label may take before the rest count as "other": a label per domain an attacker makes up would grow memory without end. */
export const MAX_DOMAIN_LABELS = 200;

/** A provider's circuit breaker as the metrics see it. */
export interface BreakerReading {
  channel: string;
  provider: string;
  state: BreakerPosition;
}

/**
 * How long each channel's longest-waiting message has waited for a worker, in seconds: since its
 * attempt fell due (or its lease ran out); a channel with none due is left out.
 */
export type OldestQueued = () => Promise<Partial<Record<Channel, number>>>;
/** An endpoint's webhook backlog as the metrics see it. */
export interface WebhookReading {
  endpoint: string;
  backlog: number;
  oldestPendingSeconds: number;
}

/** The configured webhook endpoints (their series exist from the start) and a reading of their backlogs, theirs only. */
export interface WebhookGauges {
  endpoints: readonly string[];
  read(): Promise<WebhookReading[]>;
}

export function createMetrics(
  queueDepth: () => Promise<number>,
  breakers: () => BreakerReading[] = () => [],
  oldestQueued: OldestQueued = async () => ({}),
  webhooks: WebhookGauges = { endpoints: [], read: async () => [] },
): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'panic_' });
  new Gauge({
    name: 'panic_provider_breaker_open',
    help: "1 while a provider's circuit breaker is open (it is skipped for the channel's other provider), by channel and provider",
    labelNames: ['channel', 'provider'],
    registers: [registry],
    collect() {
      for (const b of breakers()) this.set({ channel: b.channel, provider: b.provider }, b.state === 'open' ? 1 : 0);
    },
  });
  new Gauge({
    name: 'panic_delivery_queue_depth',
    help: 'Messages waiting to be sent (queued or sending)',
    registers: [registry],
    async collect() {
      this.set(await queueDepth());
    },
  });
  new Gauge({
    name: 'panic_delivery_oldest_queued_seconds',
    help: 'Seconds the longest-waiting message of each channel has been due without a worker taking it (0: none). A message waiting for its retry or its turn on the road is not due yet',
    labelNames: ['channel'],
    registers: [registry],
    async collect() {
      const waited = await oldestQueued();
      // every channel's series exists, 0 while nothing waits: an alert compares a number, not an absence
      for (const channel of CHANNELS) this.set({ channel }, waited[channel] ?? 0);
    },
  });
  const retentionRowsRemoved = new Counter({
    name: 'panic_retention_rows_removed_total',
    help: "Rows removed by retention (the worker's maintenance), by table",
    labelNames: ['table'],
    registers: [registry],
  });
  // Every table's series exists from the start, so rate() and alerts see 0 rather than nothing.
  for (const table of RETENTION_TABLES) retentionRowsRemoved.inc({ table }, 0);
  const smsBrakeRefusals = new Counter({
    name: 'panic_sms_brake_refusals_total',
    help: "SMS codes the brake refused, by part: proven_network (SMS_PROVEN_MAX_PER_HOUR reached and the requester's network past its share), new_network (SMS_MAX_PER_HOUR reached, the same), new_range (SMS_MAX_PER_HOUR reached and the number's range seldom verifies). Alert on any increase",
    labelNames: ['part'],
    registers: [registry],
  });
  for (const part of BRAKE_PARTS) smsBrakeRefusals.inc({ part }, 0);
  // the brakes of WhatsApp and calls (otp/road.ts) count under the same name
  for (const channel of PHONE_CHANNELS) if (channel !== 'sms') smsBrakeRefusals.inc({ part: `${channel}_brake` }, 0);
  const webhookDeliveries = new Counter({
    name: 'panic_webhook_deliveries_total',
    help: 'Webhook requests by endpoint (host and path) and outcome: delivered (a 2xx) or failed (anything else, a timeout, no connection: it is tried again)',
    labelNames: ['endpoint', 'outcome'],
    registers: [registry],
  });
  for (const endpoint of webhooks.endpoints)
    for (const outcome of ['delivered', 'failed']) webhookDeliveries.inc({ endpoint, outcome }, 0);
  new Gauge({
    name: 'panic_webhook_backlog',
    help: 'Webhook deliveries waiting (queued or being sent), by endpoint',
    labelNames: ['endpoint'],
    registers: [registry],
    async collect() {
      for (const r of await webhooks.read()) this.set({ endpoint: r.endpoint }, r.backlog);
    },
  });
  new Gauge({
    name: 'panic_webhook_oldest_pending_seconds',
    help: 'How long the oldest waiting webhook delivery has waited, by endpoint (0: none waits)',
    labelNames: ['endpoint'],
    registers: [registry],
    async collect() {
      for (const r of await webhooks.read()) this.set({ endpoint: r.endpoint }, r.oldestPendingSeconds);
    },
  });
  const domains = new Set<string>();
  return {
    registry,
    codesIssued: new Counter({
      name: 'panic_otp_issued_total',
      help: 'Codes issued, by purpose and the channel they first took',
      labelNames: ['purpose', 'channel'],
      registers: [registry],
    }),
    codesChecked: new Counter({
      name: 'panic_otp_checked_total',
      help: 'Codes submitted, by result: verified or the refusal code',
      labelNames: ['purpose', 'result'],
      registers: [registry],
    }),
    messagesFinished: new Counter({
      name: 'panic_messages_total',
      help: 'Messages by channel and the status an attempt left them in',
      labelNames: ['channel', 'status'],
      registers: [registry],
    }),
    sendSeconds: new Histogram({
      name: 'panic_delivery_send_seconds',
      help: 'Time a provider took to accept or refuse a message',
      labelNames: ['channel', 'provider', 'outcome'],
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    }),
    // Pumping shows as sends to a calling code with no verifications to match.
    smsSent: new Counter({
      name: 'panic_sms_sent_total',
      help: 'SMS accepted by a provider, by country calling code',
      labelNames: ['calling_code'],
      registers: [registry],
    }),
    smsVerified: new Counter({
      name: 'panic_sms_verified_total',
      help: 'SMS codes verified, by country calling code',
      labelNames: ['calling_code'],
      registers: [registry],
    }),
    smsBrakeRefusals,
    // the verification rate per channel and country is one division in PromQL
    phoneCodes: new Counter({
      name: 'panic_phone_codes_total',
      help: 'Phone codes issued, by the channel they first took and the country calling code',
      labelNames: ['first_channel', 'calling_code'],
      registers: [registry],
    }),
    phoneVerified: new Counter({
      name: 'panic_phone_verified_total',
      help: 'Phone codes verified, by their first channel, the channel that carried them last, and the country calling code',
      labelNames: ['first_channel', 'channel', 'calling_code'],
      registers: [registry],
    }),
    phoneMoves: new Counter({
      name: 'panic_phone_moves_total',
      help: 'Phone codes moved to the next channel, by channel and reason',
      labelNames: ['from', 'to', 'reason'],
      registers: [registry],
    }),
    retentionRowsRemoved,
    webhookDeliveries,
    // destination: the country calling code of an SMS, the recipient's domain of an email
    outcomes: new Counter({
      name: 'panic_delivery_outcomes_total',
      help: "Messages delivered, undelivered, failed or bounced (by the provider's receipt) and suppressed; by channel, provider and destination",
      labelNames: ['channel', 'provider', 'status', 'destination'],
      registers: [registry],
    }),
    queuedToDelivered: new Histogram({
      name: 'panic_queued_to_delivered_seconds',
      help: 'From the code being queued to its receipt of delivery',
      labelNames: ['channel', 'provider'],
      buckets: [1, 2.5, 5, 10, 30, 60, 120, 300, 900, 3600],
      registers: [registry],
    }),
    deliveryFailures: new Counter({
      name: 'panic_delivery_failures_total',
      help: "Sends that failed (stage attempt: every failed try, retried or not) and receipts of failure (stage receipt: undelivered, failed, bounced), by channel, provider and reason: the provider's code when delivery/reasons.ts explains it, else its status class (4xx, 5xx), not_configured, unreadable or other",
      labelNames: ['channel', 'provider', 'stage', 'reason'],
      registers: [registry],
    }),
    httpSeconds: new Histogram({
      name: 'panic_http_request_duration_seconds',
      help: 'HTTP requests answered, by method, route pattern (unmatched when no route matched) and status class (2xx, 4xx, 5xx), and the time to answer them',
      labelNames: ['method', 'route', 'status_class'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    destination(recipient) {
      if (!isEmailAddress(recipient)) return callingCodeOf(recipient);
      const domain = recipient.slice(recipient.lastIndexOf('@') + 1).toLowerCase();
      if (!domains.has(domain)) {
        if (domains.size >= MAX_DOMAIN_LABELS) return 'other';
        domains.add(domain);
      }
      return domain;
    },
  };
}
