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
  '63032',
  '63049',
  // the Calls API's refusals, and how a call ended (its status callback's CallStatus)
  '21210',
  '21215',
  '21216',
  'busy',
  'no-answer',
  'failed',
  'canceled',
];
/** Meta's Cloud API codes, in a send's answer or a `failed` status. */
const META = [
  '100',
  '190',
  '368',
  '80007',
  '130429',
  '131000',
  '131026',
  '131030',
  '131047',
  '131049',
  '131056',
  '132000',
  '132001',
  '132015',
  '132016',
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
    for (const code of META) complete(`Meta ${code}`, diagnose('meta', { status: 400, code }));
    for (const status of SMTP_REPLIES) complete(`SMTP ${status}`, diagnose('smtp', { status, code: 'EENVELOPE' }));
    for (const code of SMTP_CLIENT) complete(code, diagnose('smtp', { code }));
  });

  it("uses Twilio's meanings", () => {
    assert.match(diagnose('twilio', { code: '21408' })!.cause, /region.*geo permissions/);
    // a second Twilio account (SMS_FALLBACK_PROVIDER=twilio) is named twilio-fallback: its codes mean the same
    assert.match(diagnose('twilio-fallback', { code: '21408' })!.cause, /region.*geo permissions/);
    assert.match(diagnose('smtp-fallback', { status: 550, code: 'EENVELOPE' })!.cause, /mailbox|exist/i);
    assert.match(diagnose('twilio', { code: '21610' })!.cause, /STOP/);
    assert.match(diagnose('twilio', { code: '21614' })!.cause, /not a mobile number/);
    assert.match(diagnose('twilio', { code: '30007' })!.cause, /filtered/);
    assert.match(diagnose('twilio', { code: '20003' })!.cause, /authentication failed/);
    assert.match(diagnose('twilio', { code: '21215' })!.cause, /geo permissions/);
    assert.match(diagnose('twilio', { code: '21210' })!.fix, /VOICE_FROM/);
    assert.match(diagnose('twilio', { code: 'no-answer' })!.hint, /nobody answered/);
  });

  it("uses Meta's meanings, and a Meta code means nothing for Twilio", () => {
    assert.match(diagnose('meta', { status: 400, code: '131026' })!.cause, /not on WhatsApp/);
    assert.match(diagnose('meta', { status: 401, code: '190' })!.cause, /token: it expired/);
    assert.match(diagnose('meta', { status: 404, code: '132001' })!.cause, /language/);
    assert.match(diagnose('meta', { code: 'ECONNREFUSED' })!.cause, /Graph API could not be reached/);
    assert.equal(diagnose('twilio', { status: 400, code: '131026' }), null);
    assert.equal(diagnose('meta', { status: 400, code: '21211' }), null);
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
