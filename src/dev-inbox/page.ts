/**
 * The development inbox page, as the files a browser-side developer edits in `page/`: `index.html`,
 * `inbox.css` and `inbox.js` (plain browser JavaScript, no build step), with the style it shares with
 * the support console (`shared-page/base.css`). They are read once, when the inbox's routes are
 * registered, from beside this module: `npm run build` copies `page/` and `shared-page/` to `dist/`,
 * so tsx on `src/` and node on `dist/` find them alike.
 */
import { readFileSync } from 'node:fs';
import { CHANNEL_LABELS, MESSAGE_PURPOSES, MESSAGE_STATUSES } from '../shared/vocabulary.ts';
import { LOCALES } from '../shared/locales.ts';

const CSS = 'text/css; charset=utf-8';

/**
 * The page's styles and script, served beside it under /dev/inbox/ by name, with their content types;
 * `file` is the link in index.html, relative to it (and the file read).
 */
const ASSETS = [
  { name: 'base.css', file: '../../shared-page/base.css', type: CSS },
  { name: 'inbox.css', file: 'inbox.css', type: CSS },
  { name: 'inbox.js', file: 'inbox.js', type: 'text/javascript; charset=utf-8' },
] as const;

export interface InboxAsset {
  name: (typeof ASSETS)[number]['name'];
  type: string;
  body: string;
}

export interface InboxPage {
  html: string;
  assets: InboxAsset[];
}

const VOCABULARY_BLOCK = '<script type="application/json" id="vocabulary">{}</script>';

const read = (name: string): string => readFileSync(new URL(`./page/${name}`, import.meta.url), 'utf8');

/** `text` with its one `marker` replaced: a marker gone from index.html fails the start, not the page in a browser. */
function replaceOnce(text: string, marker: string, replacement: string): string {
  const at = text.indexOf(marker);
  if (at < 0 || text.includes(marker, at + 1)) {
    throw new Error(`src/dev-inbox/page/index.html must hold ${marker} exactly once`);
  }
  return text.slice(0, at) + replacement + text.slice(at + marker.length);
}

/** What the script shows beside the server's keys, as JSON data: `<` escaped so no value can end the element. */
function vocabularyJson(): string {
  const vocabulary = {
    purposes: Object.fromEntries(Object.entries(MESSAGE_PURPOSES).map(([key, p]) => [key, p.label])),
    channels: CHANNEL_LABELS,
    statuses: Object.fromEntries(Object.entries(MESSAGE_STATUSES).map(([key, s]) => [key, s.help])),
    locales: LOCALES,
  };
  return JSON.stringify(vocabulary).replace(/</g, '\\u003c');
}

/**
 * The page as served: the vocabulary filled in as data, and the links to its styles and script made
 * absolute (they are relative in the file, so it opens from disk too) and, with DEV_INBOX_TOKEN set,
 * carrying the token, since the browser fetches them with no header of ours.
 */
export function loadInboxPage(token: string | undefined): InboxPage {
  const query = token ? `?token=${encodeURIComponent(token)}` : '';
  let html = replaceOnce(
    read('index.html'),
    VOCABULARY_BLOCK,
    VOCABULARY_BLOCK.replace('{}', () => vocabularyJson()),
  );
  const assets = ASSETS.map(({ name, file, type }) => {
    html = replaceOnce(html, `"${file}"`, `"/dev/inbox/${name}${query}"`);
    return { name, type, body: read(file) };
  });
  return { html, assets };
}
