/** The one table of provider codes in plain words: every code the issue names has a cause, a fix and a hint. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { diagnose } from '../src/delivery/reasons.ts';

const TWILIO = [
  '20003',
  '20429',
  '21211',
  '21408',
  '21610',
  '21612',
  '21614',
  '30003',
  '30004',
  '30005',
  '30006',
  '30007',
  '30008',
  // WhatsApp's, in Twilio's receipts
  '63003',
  '63016',
  '63024',
];
const SMTP_REPLIES = [421, 450, 452, 550, 552, 553, 554];
const SMTP_CLIENT = ['EAUTH', 'ETLS', 'ECONNECTION', 'ESOCKET', 'ETIMEDOUT', 'EDNS'];

const complete = (what: string, d: ReturnType<typeof diagnose>) => {
  assert.ok(d, `${what} is in the table`);
  for (const field of ['cause', 'fix', 'hint'] as const)
    assert.match(d[field], /^[A-Z`'].{15,}[.)]$/, `${what}: ${field} is a sentence`);
};

describe('reasons in plain words', () => {
  it('knows every Twilio code, SMTP reply and SMTP client failure the issue names', () => {
    for (const code of TWILIO) complete(`Twilio ${code}`, diagnose('twilio', { status: 400, code }));
    for (const status of SMTP_REPLIES) complete(`SMTP ${status}`, diagnose('smtp', { status, code: 'EENVELOPE' }));
    for (const code of SMTP_CLIENT) complete(code, diagnose('smtp', { code }));
  });

  it("uses Twilio's meanings", () => {
    assert.match(diagnose('twilio', { code: '21408' })!.cause, /region.*geo permissions/);
    assert.match(diagnose('twilio', { code: '21610' })!.cause, /STOP/);
    assert.match(diagnose('twilio', { code: '21614' })!.cause, /not a mobile number/);
    assert.match(diagnose('twilio', { code: '30007' })!.cause, /filtered/);
    assert.match(diagnose('twilio', { code: '20003' })!.cause, /authentication failed/);
  });

  it('a bounce receipt naming the reply code as its code finds the reply; an SMTP login refusal (535) is EAUTH', () => {
    assert.equal(diagnose('smtp', { code: '550' }), diagnose('smtp', { status: 550 }));
    assert.equal(diagnose('smtp', { status: 535, code: 'EAUTH' }), diagnose('smtp', { code: 'EAUTH' }));
  });

  it('an SMS API known only by its HTTP answer or its network error still gets a reason; an unknown code none', () => {
    complete('http 401', diagnose('http', { status: 401 }));
    complete('twilio 503', diagnose('twilio', { status: 503, code: '20503' }));
    complete('ECONNREFUSED', diagnose('http', { code: 'ECONNREFUSED' }));
    assert.equal(diagnose('http', { status: 400, code: '12345' }), null);
    assert.equal(diagnose(null, { code: '21211' }), null, 'a code means something only for its provider');
  });
});
