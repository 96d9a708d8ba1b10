/**
 * Names that cannot impersonate (issue 18, item 7): a name is written into the greeting of an email
 * sent to whatever address was given, so it must not pass for a link, a number or someone else's
 * name: no word that mixes scripts, no invisible character, no letter that looks like punctuation or
 * a digit, no stack of combining marks (UTS #39). Real people's names, in any one script, still pass.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_MARKS_IN_A_ROW, nameProblem, personName } from '../src/shared/names.ts';
import { Name } from '../src/http/schemas.ts';
import { AppError } from '../src/shared/errors.ts';
import type { RequestBody } from './support/api.ts';
import { person, startStack, type Stack } from './support/stack.ts';
import { onNetwork } from './support/clients.ts';

/** Each attack, with what it passes for and the words its refusal must use. */
const ATTACKS: Array<{ name: string; passesFor: string; refused: RegExp }> = [
  {
    name: 'paniq-help\uA4F8com',
    passesFor: 'paniq-help.com (U+A4F8 Lisu tone letter)',
    refused: /looks like punctuation/,
  },
  {
    name: 'ꓑꓮꓠꓲꓚ\uA4F8ꓚꓳꓟ',
    passesFor: 'PANIC.COM in Lisu letters only (one script)',
    refused: /looks like punctuation/,
  },
  { name: 'Support\uA4FDcall', passesFor: 'Support:call (U+A4FD)', refused: /looks like punctuation/ },
  { name: 'wwwꞏpaniqꞏhelp', passesFor: 'www·paniq·help (U+A78F sinological dot)', refused: /looks like punctuation/ },
  { name: 'httpsːpaniq', passesFor: 'https:paniq (U+02D0 modifier colon, Common)', refused: /looks like punctuation/ },
  {
    name: 'Call OlƧȢ ƼƼ',
    passesFor: 'Call 0128 55 (Latin digit-shaped letters)',
    refused: /looks like punctuation or a digit/,
  },
  { name: 'pаypal', passesFor: 'paypal with a Cyrillic а', refused: /mixes Latin and Cyrillic/ },
  { name: 'Micrοsoft', passesFor: 'Microsoft with a Greek ο', refused: /mixes Latin and Greek/ },
  { name: 'Ԁaniel', passesFor: 'Daniel with a Cyrillic Ԁ', refused: /mixes Cyrillic and Latin/ },
  { name: 'Thandi-Мокоеnа', passesFor: 'a Cyrillic word ending in Latin letters', refused: /mixes Cyrillic and Latin/ },
  { name: 'Аdmin Team', passesFor: 'Admin with a Cyrillic А', refused: /mixes Cyrillic and Latin/ },
  { name: '山田Taro', passesFor: 'Han and Latin in one word', refused: /mixes Han and Latin/ },
  { name: '\u3164', passesFor: 'nothing at all (U+3164 HANGUL FILLER)', refused: /invisible character \(U\+3164\)/ },
  {
    name: 'Thandi\u3164\u3164\u3164Support',
    passesFor: 'Thandi   Support',
    refused: /invisible character \(U\+3164\)/,
  },
  {
    name: 'Ada\u115F\u1160',
    passesFor: 'Ada (Hangul choseong and jungseong fillers)',
    refused: /invisible character \(U\+115F\)/,
  },
  { name: 'Ada\uFFA0', passesFor: 'Ada (U+FFA0 halfwidth Hangul filler)', refused: /invisible character/ },
  { name: 'Ada\u2800Lovelace', passesFor: 'Ada Lovelace (U+2800 braille blank)', refused: /invisible character/ },
  {
    name: 'Ad\u034Fa',
    passesFor: 'Ada (U+034F combining grapheme joiner)',
    refused: /invisible character \(U\+034F\)/,
  },
  { name: 'Eve\uFE0F', passesFor: 'Eve (a variation selector)', refused: /invisible character \(U\+FE0F\)/ },
  { name: 'Ad\u200Ca', passesFor: 'Ada (a zero-width non-joiner in a Latin word)', refused: /zero-width joiner/ },
  { name: 'Ada\u200D', passesFor: 'Ada (a trailing zero-width joiner)', refused: /invisible character \(U\+200D\)/ },
  {
    name: 'Z' + '\u0336\u0337\u0338\u0335'.repeat(6),
    passesFor: 'Zalgo: 24 marks on one letter',
    refused: /stacks more than 2/,
  },
  { name: 'Zq\u0301\u0302\u0303', passesFor: 'three accents on one letter', refused: /stacks more than 2/ },
];

/** Names of real people, each in one script (with the NFD spellings some keyboards send). */
const REAL = [
  'Thandi',
  'Mokoena',
  'Nomvula',
  "O'Brien",
  'Jean-Luc',
  "D'Angelo",
  'María José',
  'Zoë',
  'Łukasz',
  'Nguyễn',
  'Nguyễn'.normalize('NFD'),
  'Nguyễn Thị Minh Khai'.normalize('NFD'),
  'Ngũgĩ',
  'Ngũgĩ'.normalize('NFD'),
  "Ngũgĩ wa Thiong'o",
  'Владимир',
  'Зоя Глебовна',
  'Ελένη',
  '山田',
  '山田 たろう',
  'やまだ',
  'ノリコ',
  '김민준',
  'محمد',
  'علی‌رضا',
  'דוד',
  'ශ්‍රී',
  'सुरेश',
  'Nkosi-Dlamini',
  'St. John',
  'J.R.R.',
  'Ŋgcobo’s',
  'Kaʻiulani',
  'Þórður',
  'Søren',
  'Ægir',
  'Ōtani',
  'Chloë',
  'Müller',
  'Çağlar',
  'Nuñez',
  'Åsa',
  'ǃKhuiseb',
  'སྒྲོལ',
  'Abebe ተስፋዬ',
  'Ānanda',
];

describe('names: the rule (src/shared/names.ts)', () => {
  it('refuses every attack name, saying what is wrong', () => {
    const through = ATTACKS.filter((a) => nameProblem(a.name) === undefined);
    assert.deepEqual(
      through.map((a) => a.passesFor),
      [],
      'attack names that got through',
    );
    for (const a of ATTACKS) assert.match(nameProblem(a.name)!, a.refused, a.passesFor);
  });

  it('accepts the names of real people in any one script, composed or decomposed', () => {
    const refused = REAL.filter((n) => nameProblem(n) !== undefined).map((n) => `${n}: ${nameProblem(n)}`);
    assert.deepEqual(refused, [], 'real names refused');
  });

  it(`allows ${MAX_MARKS_IN_A_ROW} marks in a row after NFC (Vietnamese, decomposed), not ${MAX_MARKS_IN_A_ROW + 1}`, () => {
    const decomposed = 'Nguyễn'.normalize('NFD');
    assert.equal([...decomposed.matchAll(/\p{Mn}/gu)].length, 2, 'ễ is e with two marks when decomposed');
    assert.equal(nameProblem(decomposed), undefined);
    // marks with no precomposed letter stay marks after NFC: two pass, three do not
    assert.equal(nameProblem('Ja\u0323\u0306\u0300'.normalize('NFC')), undefined, 'ặ composes, then one mark');
    assert.equal(nameProblem('Jq\u0301\u0302'), undefined);
    assert.match(nameProblem('Jq\u0301\u0302\u0303')!, /stacks/);
  });

  it('keeps the NFC form, trimmed, and names the field when refusing', () => {
    assert.equal(personName('first_name', ' Nguyễn '.normalize('NFD')), 'Nguyễn'.normalize('NFC'));
    assert.throws(
      () => personName('last_name', 'pаypal'),
      (err: unknown) =>
        err instanceof AppError &&
        err.code === 'validation_error' &&
        /^"last_name" mixes Latin and Cyrillic letters in one word/.test(err.message),
    );
  });

  it("the schema lets through the names the rule judges (so each refusal is the rule's, with its words)", () => {
    const pattern = new RegExp((Name as unknown as { pattern: string }).pattern, 'u');
    const schemaRefused = [...REAL, ...ATTACKS.map((a) => a.name)].filter(
      (n) => !pattern.test(n) && !/[\uFF00-\uFFEF\u2800]/.test(n),
    );
    assert.deepEqual(schemaRefused, []);
  });
});

describe('names: through registration', () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack();
  });
  after(() => stack.close());

  // one network per registration: the per-network budgets are not what is tested here
  let network = 0;
  const register = (body: RequestBody<'POST', '/api/v1/auth/register'>) =>
    onNetwork(stack.baseUrl, ++network).api('POST', '/api/v1/auth/register', body);

  it('every attack name is a 400 validation_error naming its field, and no account or email comes of it', async () => {
    const through: string[] = [];
    for (const [i, a] of ATTACKS.entries()) {
      const field = i % 2 === 0 ? 'first_name' : 'last_name';
      const p = { ...person('name-attack'), [field]: a.name };
      const res = await register(p);
      if (res.status !== 400) {
        through.push(`${a.passesFor}: ${res.status}`);
        continue;
      }
      assert.equal(res.body.error.code, 'validation_error', res.text);
      assert.ok(res.body.error.message.includes(`"${field}"`), `${a.passesFor}: ${res.body.error.message}`);
      const saved = await stack.runtime.services.db
        .selectFrom('users')
        .select('id')
        .where('email', '=', p.email)
        .executeTakeFirst();
      assert.equal(saved, undefined, `${a.passesFor}: an account was saved`);
    }
    assert.deepEqual(through, [], 'attack names that got through');
  });

  it('every real name registers, and the greeting says it in its NFC form', async () => {
    const refused: string[] = [];
    for (const name of REAL) {
      const res = await register({ ...person('name-real'), first_name: name, last_name: name });
      if (res.status !== 201) refused.push(`${name}: ${res.status} ${res.text}`);
      else assert.equal(res.body.user.first_name, name.normalize('NFC').trim());
    }
    assert.deepEqual(refused, [], 'real names refused');

    const p = { ...person('name-nfd'), first_name: 'Nguyễn'.normalize('NFD') };
    assert.equal((await register(p)).status, 201);
    const mail = await stack.smtp.waitFor(p.email);
    assert.ok(mail.text.includes(`Hello ${'Nguyễn'.normalize('NFC')},`), mail.text);
  });
});
