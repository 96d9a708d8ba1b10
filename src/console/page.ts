/**
 * The console's pages, as the files a browser-side developer edits in `page/` (plain HTML, CSS and
 * browser JavaScript, no build step), the style it shares with the dev inbox (`shared-page/base.css`)
 * and uPlot's own files from node_modules, read once when the console's routes are registered.
 * `npm run build` copies `page/` and `shared-page/` to `dist/`, so tsx on `src/` and node on `dist/`
 * find them alike.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import {
  CHANNEL_LABELS,
  MESSAGE_EVENT_KINDS,
  MESSAGE_STATUSES,
  PHONE_CHANNELS,
  PURPOSES,
} from '../shared/vocabulary.ts';
import { LOCALES } from '../shared/locales.ts';
import { HEALTH_RANGES } from '../contract/health-stats.ts';

const TYPES = { css: 'text/css; charset=utf-8', js: 'text/javascript; charset=utf-8' } as const;

export interface ConsoleAsset {
  /** Its path under /console/assets/. */
  name: string;
  type: string;
  body: string;
}

export interface ConsolePages {
  signIn: string;
  person: string;
  health: string;
  assets: ConsoleAsset[];
}

/** The page's own files. */
const OWN_ASSETS = ['console.css', 'common.js', 'sign-in.js', 'person.js', 'health.js'];

/** The style the console shares with the dev inbox, as /console/assets/base.css. */
const BASE_CSS = { name: 'base.css', path: '../../shared-page/base.css' };

/** uPlot (MIT, no dependencies), served from this origin: nothing is loaded from another host. */
const UPLOT = { 'uPlot.iife.min.js': 'uplot/dist/uPlot.iife.min.js', 'uPlot.min.css': 'uplot/dist/uPlot.min.css' };

const read = (name: string): string => readFileSync(new URL(`./page/${name}`, import.meta.url), 'utf8');
const typeOf = (name: string) => TYPES[name.endsWith('.css') ? 'css' : 'js'];

const VOCABULARY_BLOCK = '<script type="application/json" id="vocabulary">{}</script>';

/** The words the scripts show beside the server's keys, as JSON data: `<` escaped so no value can end the element. */
function vocabularyJson(): string {
  const vocabulary = {
    purposes: Object.fromEntries(
      Object.entries(PURPOSES).map(([key, p]) => [key, { label: p.label, channels: p.channels }]),
    ),
    channels: CHANNEL_LABELS,
    phoneChannels: PHONE_CHANNELS,
    statuses: Object.fromEntries(Object.entries(MESSAGE_STATUSES).map(([key, s]) => [key, s.help])),
    events: MESSAGE_EVENT_KINDS,
    locales: LOCALES,
    ranges: HEALTH_RANGES,
  };
  return JSON.stringify(vocabulary).replace(/</g, '\\u003c');
}

/** A page with its vocabulary filled in, when it has the block (exactly once: a block gone fails the start). */
function withVocabulary(name: string): string {
  const html = read(name);
  const at = html.indexOf(VOCABULARY_BLOCK);
  if (at < 0) return html;
  if (html.includes(VOCABULARY_BLOCK, at + 1))
    throw new Error(`src/console/page/${name} holds ${VOCABULARY_BLOCK} twice`);
  return (
    html.slice(0, at) +
    VOCABULARY_BLOCK.replace('{}', () => vocabularyJson()) +
    html.slice(at + VOCABULARY_BLOCK.length)
  );
}

export function loadConsolePages(): ConsolePages {
  const require = createRequire(import.meta.url);
  return {
    signIn: read('sign-in.html'),
    person: withVocabulary('index.html'),
    health: withVocabulary('health.html'),
    assets: [
      { name: BASE_CSS.name, type: TYPES.css, body: read(BASE_CSS.path) },
      ...OWN_ASSETS.map((name) => ({ name, type: typeOf(name), body: read(name) })),
      ...Object.entries(UPLOT).map(([name, file]) => ({
        name,
        type: typeOf(name),
        body: readFileSync(require.resolve(file), 'utf8'),
      })),
    ],
  };
}
