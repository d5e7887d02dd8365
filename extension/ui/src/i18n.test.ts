import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Lang, messages, t, tn, word } from './i18n';
import { formatDate, formatDuration, formatSeconds, pluralCategories, pluralCategory } from './format';
import { stepWords } from './model';

const en = messages.en as Record<string, string>;
const zh = messages.zh as Record<string, string>;
const docs = join(__dirname, '..', '..', '..', 'docs');
const jsonMd = readFileSync(join(docs, 'json.md'), 'utf8');
const schema = (f: string) => JSON.parse(readFileSync(join(docs, 'schema', f), 'utf8'));

// Messages whose Chinese may equal the English: none are words; these hold only what is the
// same in both (placeholders, punctuation, names that are not translated).
const sameInBoth = new Set<string>([]);
// The switch names the other language, so it is the one Chinese message in English.
const namesOtherLanguage = new Set(['lang.switch']);
const placeholders = (s: string) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();
const pluralForm = /\.(zero|one|two|few|many|other)$/;

describe('both languages are complete', () => {
  it('has every English message in Chinese, translated, with the same placeholders', () => {
    const missing: string[] = []; const same: string[] = []; const holes: string[] = [];
    for (const [k, v] of Object.entries(en)) {
      const m = k.match(pluralForm);
      if (m && !pluralCategories('zh').includes(m[1] as Intl.LDMLPluralRule)) continue; // a form Chinese does not have
      const z = zh[k];
      if (z === undefined || z.trim() === '') { missing.push(k); continue; }
      if (z === v && !sameInBoth.has(k)) same.push(k);
      if (placeholders(z).join() !== placeholders(v).join()) holes.push(k);
    }
    expect(missing, 'messages missing in Chinese').toEqual([]);
    expect(same, 'Chinese messages identical to the English').toEqual([]);
    expect(holes, 'messages whose placeholders differ').toEqual([]);
  });
  it('has no Chinese message English lacks, and every Chinese word in Chinese', () => {
    for (const k of Object.keys(zh)) {
      const base = k.replace(pluralForm, '');
      expect(k in en || `${base}.other` in en, `zh has ${k}`).toBe(true);
      // a translation holds Chinese characters, not only Latin letters
      const words = (en[k] ?? en[`${base}.other`]).replace(/\{\w+\}/g, '').replace(/--[a-z-]+/g, '');
      if (/[A-Za-z]/.test(words) && !namesOtherLanguage.has(k)) expect(/[\u4e00-\u9fff]/.test(zh[k]), `zh ${k} = ${zh[k]}`).toBe(true);
    }
  });
  it('has every plural form of every counted message in each language', () => {
    const counted = new Set(Object.keys(en).filter((k) => pluralForm.test(k)).map((k) => k.replace(pluralForm, '')));
    expect(counted.size).toBeGreaterThan(0);
    for (const lang of ['en', 'zh'] as Lang[]) {
      const m = messages[lang] as Record<string, string>;
      for (const base of counted) for (const cat of pluralCategories(lang)) expect(m, `${lang} ${base}.${cat}`).toHaveProperty(`${base}.${cat}`);
    }
  });
});

// Every name docker-maim can print that the UI shows: listed from docs/json.md and
// docs/schema (not copied here), so a name the CLI gains fails this test until translated.
function tableColumn(heading: RegExp, col: number): string[] {
  const i = jsonMd.search(heading);
  expect(i, String(heading)).toBeGreaterThan(-1);
  const rows = jsonMd.slice(i).split('\n').slice(2).filter((_, n, a) => a.slice(0, n + 1).every((r) => r.startsWith('|')));
  return rows.flatMap((r) => [...(r.split('|')[col + 1] ?? '').matchAll(/`([a-z][a-z-]*)`/g)].map((m) => m[1]));
}
const enumAt = (file: string, path: string[]) => {
  let v = schema(file);
  for (const p of path) v = v[p];
  return v.enum as string[];
};
const cliNames: Record<string, string[]> = {
  // the steps of each operation (progress lines' phase, the plan's phases)
  phase: [
    ...tableColumn(/^\| `op` \| `phase` \|$/m, 1),
    ...enumAt('upgrade.json', ['properties', 'plan', 'properties', 'phases', 'items', 'properties', 'name']),
    // the journal's phases status shows as interrupted.phase (the old names)
    ...tableColumn(/^\| old `phase` \| new `op` and `phase` \|$/m, 0),
  ],
  op: tableColumn(/^\| `op` \| `phase` \|$/m, 0),
  outcome: enumAt('upgrade.json', ['properties', 'outcome']),
  backupStatus: enumAt('backups.json', ['properties', 'backups', 'items', 'properties', 'status']),
  taskStatus: enumAt('progress.json', ['properties', 'status']),
  reason: ['manual', 'upgrade', 'pre-restore', 'pre-rollback'],
  kind: ['volume', 'bind-dir', 'bind-file', 'project-file'],
  action: ['merge', 'copy-template'],
  decision: enumAt('upgrade.json', ['properties', 'plan', 'properties', 'databases', 'items', 'properties', 'decision']),
};

describe('every name the CLI prints is translated', () => {
  it('finds the names in the docs', () => {
    expect(cliNames.phase).toEqual(expect.arrayContaining(['backup-hot', 'merge', 'gate', 'safety-backup', 'repin', 'dump', 'health', 'rolling-back']));
    expect(cliNames.op.sort()).toEqual(['backup', 'restore', 'rollback', 'upgrade']);
    expect(cliNames.outcome).toContain('rolled-back');
    // the reasons, kinds and actions the docs list in prose
    expect(jsonMd).toContain('manual, upgrade, pre-restore, pre-rollback');
    expect(jsonMd).toContain('volume, bind-dir, bind-file, project-file');
    expect(jsonMd).toContain("'merge' or 'copy-template'");
  });
  for (const [group, names] of Object.entries(cliNames)) {
    it(`${group}: ${[...new Set(names)].length} names`, () => {
      for (const n of new Set(names)) {
        expect(en, `en ${group}.${n}`).toHaveProperty(`${group}.${n}`);
        expect(zh, `zh ${group}.${n}`).toHaveProperty(`${group}.${n}`);
        expect(word('zh', group as never, n)).not.toBe(n);
      }
    });
  }
  it('shows a name it does not know as printed, and an automatic rollback step as op: step', () => {
    expect(word('zh', 'phase', 'gate')).toBe('健康检查');
    expect(word('zh', 'phase', 'teleport')).toBe('teleport');
    expect(stepWords('rollback: restore').map(([g, n]) => word('zh', g, n))).toEqual(['回滚', '恢复']);
    expect(stepWords('backup-hot').map(([g, n]) => word('en', g, n)).join(': ')).toBe('backup (running)');
  });
});

describe('Intl: dates, durations and plurals in the UI language', () => {
  const when = '2026-12-07T10:21:34Z';
  it('formats dates in the UI language, not the browser\'s', () => {
    expect(formatDate('en', when, 'UTC')).toBe('Dec 7, 2026, 10:21 AM');
    expect(formatDate('zh', when, 'UTC')).toBe('2026年12月7日 10:21');
    expect(formatDate('en', undefined)).toBe('-');
    expect(formatDate('en', 'not a time')).toBe('not a time');
  });
  it('formats durations with the language\'s units', () => {
    expect(formatDuration('en', 2e9)).toBe('2 sec');
    expect(formatDuration('en', 1.5e9)).toBe('1.5 sec');
    expect(formatDuration('zh', 1.5e9)).toBe('1.5秒');
    expect(formatDuration('en', 125e9)).toBe('2 min 5 sec');
    expect(formatDuration('zh', 125e9)).toBe('2分钟 5秒');
    expect(formatDuration('en', 120e9)).toBe('2 min');
    expect(formatDuration('en', 4e6)).toBe('4 ms');
    expect(formatSeconds('en', undefined)).toBe('?');
  });
  it('picks the plural form with Intl.PluralRules', () => {
    expect(pluralCategory('en', 1)).toBe('one');
    expect(pluralCategory('en', 2)).toBe('other');
    expect(pluralCategory('zh', 1)).toBe('other');
    expect(tn('en', 'backups.pruned', 1)).toBe('Removed 1 backup.');
    expect(tn('en', 'backups.pruned', 3)).toBe('Removed 3 backups.');
    expect(tn('en', 'backups.pruned', 0)).toBe('Removed 0 backups.');
    expect(tn('zh', 'backups.pruned', 1)).toBe('已删除 1 个备份。');
    expect(tn('en', 'archives', 1200)).toBe('1,200 archives');
    expect(t('en', 'backups.verified', { id: 'b', archives: tn('en', 'archives', 1), bytes: '2 kB' })).toBe('Backup b is intact: 1 archive, 2 kB.');
  });
});
