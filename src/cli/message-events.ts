import type { paths } from './client/api-types.ts';

type MessageEvent =
  paths['/api/v1/admin/messages']['get']['responses'][200]['content']['application/json']['messages'][number]['events'][number];

/** What an event adds to its kind: the provider, how long, what it answered. */
function detail(e: MessageEvent): string {
  const answer = [e.provider_status, e.provider_code].filter((x) => x !== null && x !== undefined).join(' ');
  const facts = [e.provider, answer, e.duration_ms !== null ? `${e.duration_ms} ms` : ''].filter(Boolean).join(', ');
  return [facts && ` (${facts})`, e.provider_id ? ` id ${e.provider_id}` : '', e.error ? `: ${e.error}` : ''].join('');
}

/** A message's events, oldest first, as lines to print under the message (`panic-api messages`, `why`). */
export function messageEventLines(events: MessageEvent[]): string[] {
  return events.flatMap((e) => {
    // The status it left the message in, when the kind does not say it (a failed attempt: queued or failed).
    const left = e.status === e.kind ? '' : ` → ${e.status}`;
    const line = `${e.at}  ${e.kind.replaceAll('_', ' ')}${left}${detail(e)}`;
    return [
      line,
      // the provider's own words, as it gave them (an SMTP reply with its command, an API's error body)
      ...(e.provider_error ? [`  provider's answer: ${JSON.stringify(e.provider_error)}`] : []),
      ...(e.diagnosis ? [`  cause: ${e.diagnosis.cause}`, `  fix: ${e.diagnosis.fix}`] : []),
    ];
  });
}
