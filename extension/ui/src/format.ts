// Dates, durations, counts and plurals in the UI's language, through the browser's Intl
// (never the browser's own locale: the UI's language is chosen in the UI).
import type { Lang } from './i18n';

/** The BCP 47 locale of a UI language. */
export const locale = (lang: Lang) => (lang === 'zh' ? 'zh-CN' : 'en-US');

const dateFmts = new Map<string, Intl.DateTimeFormat>();
/** formatDate shows an RFC 3339 time as a date and a time of the user's time zone in the UI's
 * language ("Dec 7, 2026, 10:21 AM", "2026年12月7日 10:21"); an unreadable time as given. */
export function formatDate(lang: Lang, iso: string | undefined, timeZone?: string): string {
  if (!iso) return '-';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const key = `${lang}/${timeZone ?? ''}`;
  let f = dateFmts.get(key);
  if (!f) { f = new Intl.DateTimeFormat(locale(lang), { dateStyle: 'medium', timeStyle: 'short', timeZone }); dateFmts.set(key, f); }
  return f.format(d);
}

const unit = (lang: Lang, u: 'millisecond' | 'second' | 'minute', v: number, digits = 0) =>
  new Intl.NumberFormat(locale(lang), { style: 'unit', unit: u, unitDisplay: 'short', maximumFractionDigits: digits }).format(v);

/** formatDuration shows nanoseconds as milliseconds, seconds (one decimal) or minutes and
 * seconds, with the unit names of the UI's language ("1.5 sec", "1.5秒", "2 min 5 sec"). */
export function formatDuration(lang: Lang, ns: number | undefined): string {
  if (ns === undefined || ns < 0) return '?';
  const s = ns / 1e9;
  if (s < 1) return unit(lang, 'millisecond', Math.round(ns / 1e6));
  if (s < 60) return unit(lang, 'second', s, 1);
  const m = Math.floor(s / 60);
  const rest = Math.round(s - m * 60);
  return rest ? `${unit(lang, 'minute', m)} ${unit(lang, 'second', rest)}` : unit(lang, 'minute', m);
}

/** formatSeconds: formatDuration of seconds (a progress line's eta_seconds). */
export const formatSeconds = (lang: Lang, sec: number | undefined) => (sec === undefined ? '?' : formatDuration(lang, sec * 1e9));

/** formatNumber: an integer or decimal with the UI language's grouping. */
export const formatNumber = (lang: Lang, n: number) => new Intl.NumberFormat(locale(lang)).format(n);

/** pluralCategory is the plural form of n in the UI's language (English: one, other; Chinese:
 * other only), the suffix of a counted message's keys ("backups.pruned.one"). */
export const pluralCategory = (lang: Lang, n: number): Intl.LDMLPluralRule => new Intl.PluralRules(locale(lang)).select(n);

/** The plural forms a language's counted messages must have. */
export const pluralCategories = (lang: Lang): Intl.LDMLPluralRule[] => new Intl.PluralRules(locale(lang)).resolvedOptions().pluralCategories;
