import { AppError } from './errors.ts';

/**
 * A person's name that cannot pass for something else, after Unicode's security mechanisms (UTS #39).
 * Names are written into the greeting of emails sent to whatever address was given, so besides the
 * schema's rule (letters, spaces, ' ’ - ., no digits, no link) each word of a name, split on spaces and
 * hyphens, must be:
 * - in one script: the Script_Extensions of its letters (Common and Inherited characters join any
 *   script) have a script in common, Han counting as Japanese with Hiragana and Katakana, as Korean
 *   with Hangul and with Bopomofo (UTS #39's resolved script set); "pаypal" with a Cyrillic а is not;
 * - visible: no format character and no default-ignorable one (Hangul fillers, variation selectors,
 *   the grapheme joiner), except a zero-width (non-)joiner between two letters of a word in a script
 *   whose spelling needs it (Arabic for Persian, the Indic scripts);
 * - free of the letters that look like punctuation or digits (LOOKS_LIKE_PUNCTUATION_OR_DIGIT);
 * - without stacks: at most MAX_MARKS_IN_A_ROW combining marks (Mn, Me) in a row, after NFC.
 * The name is checked and kept in its NFC form, so a decomposed "Nguyễn" is the precomposed one.
 */

/** Every script of the Unicode Character Database (its long names), as RegExp's `\p{scx=…}` spells them. */
const SCRIPT_NAMES = [
  'Latin',
  'Greek',
  'Cyrillic',
  'Armenian',
  'Hebrew',
  'Arabic',
  'Syriac',
  'Thaana',
  'Nko',
  'Samaritan',
  'Mandaic',
  'Devanagari',
  'Bengali',
  'Gurmukhi',
  'Gujarati',
  'Oriya',
  'Tamil',
  'Telugu',
  'Kannada',
  'Malayalam',
  'Sinhala',
  'Thai',
  'Lao',
  'Tibetan',
  'Myanmar',
  'Georgian',
  'Hangul',
  'Ethiopic',
  'Cherokee',
  'Canadian_Aboriginal',
  'Ogham',
  'Runic',
  'Tagalog',
  'Hanunoo',
  'Buhid',
  'Tagbanwa',
  'Khmer',
  'Mongolian',
  'Limbu',
  'Tai_Le',
  'New_Tai_Lue',
  'Buginese',
  'Tai_Tham',
  'Balinese',
  'Sundanese',
  'Batak',
  'Lepcha',
  'Ol_Chiki',
  'Glagolitic',
  'Tifinagh',
  'Hiragana',
  'Katakana',
  'Bopomofo',
  'Han',
  'Yi',
  'Lisu',
  'Vai',
  'Bamum',
  'Syloti_Nagri',
  'Phags_Pa',
  'Saurashtra',
  'Kayah_Li',
  'Rejang',
  'Javanese',
  'Cham',
  'Tai_Viet',
  'Meetei_Mayek',
  'Coptic',
  'Braille',
  'Linear_A',
  'Linear_B',
  'Lycian',
  'Carian',
  'Old_Italic',
  'Gothic',
  'Old_Permic',
  'Ugaritic',
  'Old_Persian',
  'Deseret',
  'Shavian',
  'Osmanya',
  'Osage',
  'Elbasan',
  'Caucasian_Albanian',
  'Vithkuqi',
  'Cypriot',
  'Imperial_Aramaic',
  'Palmyrene',
  'Nabataean',
  'Hatran',
  'Phoenician',
  'Lydian',
  'Meroitic_Hieroglyphs',
  'Meroitic_Cursive',
  'Kharoshthi',
  'Old_South_Arabian',
  'Old_North_Arabian',
  'Manichaean',
  'Avestan',
  'Inscriptional_Parthian',
  'Inscriptional_Pahlavi',
  'Psalter_Pahlavi',
  'Old_Turkic',
  'Old_Hungarian',
  'Hanifi_Rohingya',
  'Yezidi',
  'Old_Sogdian',
  'Sogdian',
  'Old_Uyghur',
  'Chorasmian',
  'Elymaic',
  'Brahmi',
  'Kaithi',
  'Sora_Sompeng',
  'Chakma',
  'Mahajani',
  'Sharada',
  'Khojki',
  'Multani',
  'Khudawadi',
  'Grantha',
  'Newa',
  'Tirhuta',
  'Siddham',
  'Modi',
  'Takri',
  'Ahom',
  'Dogra',
  'Warang_Citi',
  'Dives_Akuru',
  'Nandinagari',
  'Zanabazar_Square',
  'Soyombo',
  'Pau_Cin_Hau',
  'Bhaiksuki',
  'Marchen',
  'Masaram_Gondi',
  'Gunjala_Gondi',
  'Makasar',
  'Kawi',
  'Cuneiform',
  'Cypro_Minoan',
  'Egyptian_Hieroglyphs',
  'Anatolian_Hieroglyphs',
  'Mro',
  'Tangsa',
  'Bassa_Vah',
  'Pahawh_Hmong',
  'Medefaidrin',
  'Miao',
  'Tangut',
  'Khitan_Small_Script',
  'Nushu',
  'Duployan',
  'SignWriting',
  'Nyiakeng_Puachue_Hmong',
  'Toto',
  'Wancho',
  'Nag_Mundari',
  'Mende_Kikakui',
  'Adlam',
  // Unicode 16 and 17: known to the RegExp of a runtime whose ICU is that recent (see KNOWN_SCRIPTS)
  'Garay',
  'Gurung_Khema',
  'Kirat_Rai',
  'Ol_Onal',
  'Sunuwar',
  'Todhri',
  'Tulu_Tigalari',
  'Beria_Erfe',
  'Sidetic',
  'Tai_Yo',
  'Tolong_Siki',
  'Common',
  'Inherited',
] as const;

/**
 * The scripts this runtime's RegExp knows. An older ICU refuses a newer script's name; the letters of
 * that script then belong to no script here, and a word of them is one "Unknown" script.
 */
const KNOWN_SCRIPTS = SCRIPT_NAMES.flatMap((name) => {
  try {
    return [{ name, pattern: new RegExp(`^\\p{scx=${name}}$`, 'u') }];
  } catch {
    return [];
  }
});

/** UTS #39's augmented script sets: a Han character also writes Japanese, Korean and Chinese with Bopomofo. */
const AUGMENTED: Record<string, string[]> = {
  Han: ['Japanese', 'Korean', 'Han_with_Bopomofo'],
  Hiragana: ['Japanese'],
  Katakana: ['Japanese'],
  Hangul: ['Korean'],
  Bopomofo: ['Han_with_Bopomofo'],
};

/** The scripts a character writes; undefined for Common and Inherited ones, which join a word of any script. */
function scriptsOf(char: string): string[] | undefined {
  const own = KNOWN_SCRIPTS.filter((s) => s.pattern.test(char)).map((s) => s.name as string);
  if (own.length === 1 && (own[0] === 'Common' || own[0] === 'Inherited')) return undefined;
  if (own.length === 0) return ['Unknown'];
  return own.flatMap((s) => [s, ...(AUGMENTED[s] ?? [])]);
}

/**
 * Letters that look like punctuation or digits, from Unicode's confusables data (confusables.txt,
 * scanned once): the letters and marks whose skeleton is ASCII digits or ASCII punctuation other than
 * the ' and - names may carry, or a middle dot. Left out of it, because a word of their own script
 * needs them and the one-script rule keeps them out of other words: Cyrillic З б Ӡ, Katakana ノ, the
 * Indic visargas, Cherokee, Canadian syllabics, Tifinagh, Osage, Warang Citi, Miao, N'Ko, Latin ǃ ʔ Ɂ Ʒ.
 */
const LOOKS_LIKE_PUNCTUATION_OR_DIGIT = new RegExp(
  '[' +
    '\\uA4F8-\\uA4FD' + // Lisu tone letters: . , .. ., ; :  ("paniq-help" + U+A4F8 + "com")
    '\\u02D0\\u02D1' + // modifier letter colons (IPA length), Common: they join any word
    '\\uA78F' + // Latin letter sinological dot, a middle dot
    '\\u3031-\\u3035' + // vertical kana repeat marks (〳 is a slash), Common, for vertical text only
    '\\u01A7\\u01BC\\u021C\\u0222\\u0223\\uA75A\\uA76A\\uA76E\\uA7AB\\uA778' + // obsolete Latin Ƨ Ƽ Ȝ Ȣ ȣ Ꝛ Ꝫ Ꝯ Ɜ ꝸ: 2 5 3 8 8 2 3 9 3 &
    '\\u03E8\\u2CC6\\u2CCA\\u2CCC\\u2CD2\\uA644' + // obsolete Coptic and Cyrillic Ϩ Ⳇ Ⳋ Ⳍ Ⳓ Ꙅ: 2 / 9 3 6 2
    '\\u{1029B}\\u{1031A}\\u{1031F}' + // Carian and Old Italic letters shaped as + 8 *
    '\\u{1D16D}' + // musical augmentation dot (a combining mark), Common
    ']',
  'u',
);

/** Characters that show nothing: format characters, Unicode's default-ignorable ones, the blank Braille pattern. */
const INVISIBLE = /[\p{Cf}\p{Default_Ignorable_Code_Point}\u2800]/u;
/** Zero-width non-joiner and joiner: they only change how the letters around them join. */
const JOINER = /\p{Join_Control}/u;
/** The scripts whose spelling needs a zero-width (non-)joiner inside a word (Persian, the Indic conjuncts). */
const JOINER_SCRIPTS = new Set([
  'Arabic',
  'Devanagari',
  'Bengali',
  'Gurmukhi',
  'Gujarati',
  'Oriya',
  'Tamil',
  'Telugu',
  'Kannada',
  'Malayalam',
  'Sinhala',
]);

export const MAX_MARKS_IN_A_ROW = 2;
/** Tibetan's subjoined letters are consonants written below (Mn); its stacked syllables (སྒྲོལ) are not Zalgo. */
const STACKING_MARK = /(?![\u0F8D-\u0FBC])[\p{Mn}\p{Me}]/u;

const codePoint = (char: string) => `U+${char.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;
const scriptName = (scripts: string[]) => scripts[0].replace(/_/g, ' ');

/** What is wrong with one word of a name (NFC), in plain words, or undefined. */
function wordProblem(word: string): string | undefined {
  const chars = [...word];
  let scripts: string[] | undefined;
  let marks = 0;
  let joined = false;
  for (const [i, char] of chars.entries()) {
    if (LOOKS_LIKE_PUNCTUATION_OR_DIGIT.test(char))
      return `contains ${char} (${codePoint(char)}), a letter that looks like punctuation or a digit`;
    if (JOINER.test(char)) {
      const between = i > 0 && i < chars.length - 1 && !JOINER.test(chars[i - 1]) && !JOINER.test(chars[i + 1]);
      if (!between) return `contains an invisible character (${codePoint(char)})`;
      joined = true;
      continue;
    }
    if (INVISIBLE.test(char)) return `contains an invisible character (${codePoint(char)})`;
    marks = STACKING_MARK.test(char) ? marks + 1 : 0;
    if (marks > MAX_MARKS_IN_A_ROW) return `stacks more than ${MAX_MARKS_IN_A_ROW} accents or marks on one letter`;
    const own = scriptsOf(char);
    if (!own) continue;
    const both = scripts ? scripts.filter((s) => own.includes(s)) : own;
    if (both.length === 0)
      return `mixes ${scriptName(scripts!)} and ${scriptName(own)} letters in one word: write each word in one script`;
    scripts = both;
  }
  if (joined && !scripts?.some((s) => JOINER_SCRIPTS.has(s)))
    return 'contains an invisible zero-width joiner, which only Arabic and the Indic scripts need inside a word';
  return undefined;
}

/** What is wrong with a name, in plain words to follow the field's name, or undefined if nothing. */
export function nameProblem(name: string): string | undefined {
  for (const word of name.normalize('NFC').split(/[ -]+/)) {
    const problem = wordProblem(word);
    if (problem) return problem;
  }
  return undefined;
}

/** The name to keep (NFC, trimmed); validation_error naming the field when it could pass for something else. */
export function personName(field: string, input: string): string {
  const name = input.normalize('NFC').trim();
  const problem = nameProblem(name);
  if (problem) throw new AppError('validation_error', `"${field}" ${problem}.`);
  return name;
}
