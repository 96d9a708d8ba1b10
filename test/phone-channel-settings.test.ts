/** PHONE_CHANNELS and PHONE_CHANNELS_BY_COUNTRY as loadConfig reads them: the roads a phone code takes, or a sentence naming the mistake. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, loadConfig } from '../src/config/settings.ts';

/** The one problem loadConfig reports for `env`. */
function problem(env: Record<string, string>): string {
  const err = (() => {
    try {
      loadConfig(env);
    } catch (e) {
      return e;
    }
    assert.fail(`${JSON.stringify(env)} was accepted`);
  })();
  assert.ok(err instanceof ConfigError, String(err));
  return err.message.replace(/^Invalid configuration:\n {2}/, '');
}

describe('PHONE_CHANNELS', () => {
  it('defaults to sms; takes the channels in the order given, whatever the case and spaces', () => {
    assert.deepEqual(loadConfig({}).PHONE_CHANNELS, ['sms']);
    assert.deepEqual(loadConfig({ PHONE_CHANNELS: ' WhatsApp , sms,VOICE ' }).PHONE_CHANNELS, [
      'whatsapp',
      'sms',
      'voice',
    ]);
    assert.deepEqual(loadConfig({ PHONE_CHANNELS: 'voice,sms,' }).PHONE_CHANNELS, ['voice', 'sms'], 'a trailing comma');
  });

  it('refuses a channel that is not a phone channel (email included), a channel twice, and an empty list', () => {
    assert.equal(
      problem({ PHONE_CHANNELS: 'sms,fax' }),
      'PHONE_CHANNELS: "fax" is not a phone channel (sms, whatsapp, voice)',
    );
    assert.equal(
      problem({ PHONE_CHANNELS: 'email,sms,telegram' }),
      'PHONE_CHANNELS: "email", "telegram" are not phone channels (sms, whatsapp, voice)',
    );
    assert.equal(
      problem({ PHONE_CHANNELS: 'sms,whatsapp,SMS' }),
      'PHONE_CHANNELS: "sms,whatsapp,SMS" names a channel twice',
    );
    assert.equal(
      problem({ PHONE_CHANNELS: ' , ' }),
      'PHONE_CHANNELS: names no channel: list them in order, e.g. sms,whatsapp,voice',
    );
  });
});

describe('PHONE_CHANNELS_BY_COUNTRY', () => {
  it('COUNTRY=channel,channel entries split by semicolons, country codes in any case; unset, no country has its own', () => {
    assert.equal(loadConfig({}).PHONE_CHANNELS_BY_COUNTRY.size, 0);
    const config = loadConfig({ PHONE_CHANNELS_BY_COUNTRY: 'za=whatsapp,sms,voice; NA = sms,voice;' });
    assert.deepEqual(
      [...config.PHONE_CHANNELS_BY_COUNTRY],
      [
        ['ZA', ['whatsapp', 'sms', 'voice']],
        ['NA', ['sms', 'voice']],
      ],
    );
    assert.deepEqual(config.PHONE_CHANNELS, ['sms'], 'the default road stays');
  });

  it('refuses an entry not of the COUNTRY=list syntax, a code that is no country, a country twice, and a bad list', () => {
    for (const entry of ['ZA:sms', 'ZAF=sms', 'ZA=', 'sms,voice']) {
      assert.equal(
        problem({ PHONE_CHANNELS_BY_COUNTRY: entry }),
        `PHONE_CHANNELS_BY_COUNTRY: "${entry}" is not COUNTRY=channel,channel (e.g. ZA=whatsapp,sms,voice)`,
      );
    }
    assert.equal(
      problem({ PHONE_CHANNELS_BY_COUNTRY: 'ZA=sms;XX=voice' }),
      'PHONE_CHANNELS_BY_COUNTRY: XX is not a country code (ISO 3166, e.g. ZA, NA, BW)',
    );
    assert.equal(
      problem({ PHONE_CHANNELS_BY_COUNTRY: 'ZA=sms;za=voice' }),
      'PHONE_CHANNELS_BY_COUNTRY: ZA is given twice',
    );
    assert.equal(
      problem({ PHONE_CHANNELS_BY_COUNTRY: 'ZA=sms,pigeon' }),
      'PHONE_CHANNELS_BY_COUNTRY: "pigeon" is not a phone channel (sms, whatsapp, voice)',
    );
  });

  it('both settings wrong: both reported at once', () => {
    assert.equal(
      problem({ PHONE_CHANNELS: 'fax', PHONE_CHANNELS_BY_COUNTRY: 'ZA=sms,sms' }),
      'PHONE_CHANNELS: "fax" is not a phone channel (sms, whatsapp, voice)\n  PHONE_CHANNELS_BY_COUNTRY: "sms,sms" names a channel twice',
    );
  });
});
