import { describe, expect, it } from 'vitest';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  applyLine, args, changes, followEnded, isDetached, pendingOps, runningOp, emptyProgress, errorKey, humanBytes, humanDuration, logLines, needsTypedConfirm, parseDoc,
  parseProgressLine, percent, binaryName, BackupsDoc, ProjectsDoc, StatusDoc, UpgradeDoc, RollbackDoc, PruneDoc, VerifyDoc, BackupDoc,
} from './model';

import { messages, pickLang, t } from './i18n';

// Fixtures are the real binary's output on a stand-in project (e2e/capture-fixtures.sh).
const fx = join(__dirname, 'fixtures');
const doc = <T,>(name: string) => parseDoc<T & { schema_version: number }>(readFileSync(join(fx, name + '.json'), 'utf8'));
const lines = (name: string) => readFileSync(join(fx, name + '.stderr'), 'utf8').split('\n');
const schemaDir = join(__dirname, '..', '..', '..', 'docs', 'schema');
const schema = (f: string) => JSON.parse(readFileSync(join(schemaDir, f), 'utf8'));

// required members and known members per docs/schema: what the UI may rely on
function checkAgainst(file: string, v: Record<string, unknown>) {
  const s = schema(file);
  for (const r of s.required ?? []) expect(v, `${file}: ${r}`).toHaveProperty(r);
  for (const k of Object.keys(v)) expect(Object.keys(s.properties), `${file} does not know ${k}`).toContain(k);
}

describe('every JSON shape the CLI prints', () => {
  const bySchema: Record<string, string> = {
    projects: 'projects.json', 'status-fresh': 'status.json', 'status-upgraded': 'status.json', backup: 'backup.json',
    backups: 'backups.json', 'backups-after': 'backups.json', verify: 'verify.json', 'upgrade-dry-run': 'upgrade.json',
    'upgrade-refused': 'upgrade.json', 'upgrade-upgraded': 'upgrade.json', 'upgrade-rolled-back': 'upgrade.json',
    rollback: 'rollback.json', 'prune-dry-run': 'prune.json', 'error-no-project': 'error.json',
  };
  it('has a fixture per captured command, each matching its schema', () => {
    const names = readdirSync(fx).filter((f) => f.endsWith('.json')).map((f) => f.replace(/\.json$/, ''));
    expect(names.sort()).toEqual(Object.keys(bySchema).sort());
    for (const [n, s] of Object.entries(bySchema)) checkAgainst(s, doc<Record<string, unknown>>(n) as unknown as Record<string, unknown>);
  });
  it('projects', () => {
    const d = doc<ProjectsDoc>('projects');
    expect(d.error).toBeUndefined();
    expect(d.projects?.some((p) => p.name === 'maibot' && p.services.includes('bot'))).toBe(true);
  });
  it('status before and after an upgrade', () => {
    const a = doc<StatusDoc>('status-fresh'); const b = doc<StatusDoc>('status-upgraded');
    expect(a.services?.[0].version).toBe('1.0.0');
    expect(a.last_upgrade).toBeUndefined();
    expect(b.services?.[0].version).toBe('2.0.0');
    expect(b.last_upgrade?.result).toBe('upgraded');
  });
  it('backup, backups, verify, prune', () => {
    expect(doc<BackupDoc>('backup').id).toMatch(/^\d{8}T\d{6}Z$/);
    const bs = doc<BackupsDoc>('backups-after').backups!;
    expect(bs.length).toBeGreaterThan(2);
    expect(bs.every((b) => ['complete', 'incomplete', 'damaged', 'unreadable'].includes(b.status))).toBe(true);
    expect(doc<VerifyDoc>('verify').intact).toBe(true);
    const p = doc<PruneDoc>('prune-dry-run');
    expect(p.dry_run).toBe(true);
    expect(Array.isArray(p.kept)).toBe(true);
  });
  it('upgrade: dry run, refused, upgraded, rolled back', () => {
    const dry = doc<UpgradeDoc>('upgrade-dry-run');
    expect(dry.outcome).toBe('dry-run');
    expect(changes(dry.plan).map((c) => [c.old_version, c.new_version])).toEqual([['1.0.0', '2.0.0']]);
    expect(needsTypedConfirm(dry.plan)).toBe(true);
    const ref = doc<UpgradeDoc>('upgrade-refused');
    expect(ref.outcome).toBe('refused');
    expect(errorKey(ref.error!)).toBe('err.breaking');
    const up = doc<UpgradeDoc>('upgrade-upgraded');
    expect(up.outcome).toBe('upgraded');
    expect(up.downtime_ns).toBeGreaterThan(0);
    const rb = doc<UpgradeDoc>('upgrade-rolled-back');
    expect(rb.outcome).toBe('rolled-back');
    expect(rb.error?.code).toBe(10);
    expect(errorKey(rb.error!)).toBe('err.rolledBack');
  });
  it('rollback', () => {
    const r = doc<RollbackDoc>('rollback');
    expect(r.backup_id).toBeTruthy();
    expect(r.images?.[0].old_ref).toMatch(/:1\.0\.0$/); // the image put back
  });
  it('a failure before any result', () => {
    const e = doc<StatusDoc>('error-no-project');
    expect(e.error?.code).toBe(6);
    expect(errorKey(e.error!)).toBe('err.project');
  });
});

describe('parseDoc', () => {
  it('turns output that is not a document into an error', () => {
    expect(parseDoc('').error?.code).toBe(-1);
    expect(parseDoc('panic: boom').error?.message).toContain('panic');
    expect(parseDoc('[1]').error?.code).toBe(-1);
  });
  it('refuses a newer schema', () => {
    expect(parseDoc('{"schema_version":2}').error?.code).toBe(-2);
  });
});

describe('progress', () => {
  it('folds the real --progress json of an upgrade into phases and tasks', () => {
    let s = emptyProgress();
    for (const l of lines('upgrade-upgraded')) s = applyLine(s, l);
    // the plan's step names, in the plan's order
    expect(s.op).toBe('upgrade');
    expect(s.phases).toEqual(['backup-hot', 'stop', 'backup', 'merge', 'recreate', 'gate']);
    const t = s.tasks.find((x) => x.task === 'botdata')!;
    expect(t.status).toBe('done');
    expect(percent(t)).toBe(100);
    expect(s.events.some((e) => e.startsWith('stopping'))).toBe(true);
  });
  it('shows the failing service log lines of a rolled-back upgrade', () => {
    let s = emptyProgress();
    for (const l of lines('upgrade-rolled-back')) s = applyLine(s, l);
    // the automatic rollback's steps are told from the upgrade's own
    expect(s.phases).toContain('gate');
    expect(s.phases).toContain('rollback: restore');
    expect(s.phases).toContain('rollback: gate');
    expect(s.tasks.find((x) => x.task === 'restore botdata')?.phase).toBe('rollback: restore');
    const logs = s.events.filter((e) => /last log lines/.test(e)).flatMap(logLines);
    expect(logs.join('\n')).toContain('crashing on purpose');
    expect(s.other.join('\n')).toContain('rolled back'); // the plain error line
  });
  it('percent and ETA of a running task; unknown totals', () => {
    const s = applyLine(emptyProgress(), '{"schema_version":1,"time":"t","op":"backup","phase":"backup","task":"d","bytes":50,"total":200,"rate":10,"eta_seconds":15,"status":"running"}');
    expect(percent(s.tasks[0])).toBe(25);
    expect(s.tasks[0].eta).toBe(15);
    const u = applyLine(emptyProgress(), '{"time":"t","task":"d","bytes":50,"total":0,"rate":10,"status":"running"}');
    expect(percent(u.tasks[0])).toBeUndefined();
    expect(parseProgressLine('docker maim: x')).toBeNull();
  });
});

describe('arguments and words', () => {
  it('always asks for JSON', () => {
    for (const a of [args.projects(), args.status('p'), args.backups('p'), args.backup('p'), args.verify('p', 'i'), args.restore('p', 'i'), args.prune('p', true), args.rollback('p'), args.upgrade('p', { dryRun: true })]) {
      expect(a.join(' ')).toContain('--format json');
    }
    expect(args.upgrade('p', { dryRun: false, images: { bot: ' r:2 ', web: '' }, acceptBreaking: true })).toEqual(
      ['-p', 'p', 'upgrade', '--image', 'bot=r:2', '--accept-breaking', '--format', 'json', '--progress', 'json']);
  });
  it('detaches only the long operations that asked, never a dry run', () => {
    expect(args.upgrade('p', { dryRun: false, detach: true })).toEqual(['-p', 'p', 'upgrade', '--detach', '--format', 'json', '--progress', 'json']);
    expect(args.upgrade('p', { dryRun: true, detach: true })).not.toContain('--detach');
    expect(args.rollback('p', 'b1', [], true)).toEqual(['-p', 'p', 'rollback', 'b1', '--detach', '--format', 'json', '--progress', 'json']);
    expect(args.restore('p', 'b1', true)).toContain('--detach');
    expect(args.restore('p', 'b1')).not.toContain('--detach');
    expect(args.attach('p', 'op1')).toEqual(['-p', 'p', 'attach', 'op1']);
  });
  it('tells a running detached operation from a finished document', () => {
    expect(isDetached(parseDoc('{"schema_version":1,"id":"op1","project":"p","pid":7,"log":"l","running":true}'))).toBe(true);
    expect(isDetached(parseDoc('{"schema_version":1,"id":"20260102T030405Z","bytes":1}'))).toBe(false); // a backup's id
    expect(isDetached(parseDoc(''))).toBe(false);
    expect(followEnded(10, parseDoc('{"schema_version":1,"outcome":"rolled-back"}'))).toBe(true);
    expect(followEnded(6, parseDoc(''))).toBe(true); // an operation the CLI does not know: forget it
    for (const code of [-1, 130, 143]) expect(followEnded(code, parseDoc(''))).toBe(false);
    expect(followEnded(5, parseDoc(''))).toBe(false); // no engine: try again later
  });
  it('follows the pending operation, else the detached one status reports', () => {
    const st = { schema_version: 1, detached: { id: 'op2', verb: 'restore', pid: 9, started: 't' } } as StatusDoc;
    expect(runningOp({ id: 'op1', kind: 'upgrade' }, st)).toEqual({ id: 'op1', kind: 'upgrade' });
    expect(runningOp(undefined, st)).toEqual({ id: 'op2', kind: 'restore' });
    expect(runningOp(undefined, { schema_version: 1 })).toBeUndefined();
    expect(runningOp(undefined, { schema_version: 1, detached: { id: 'x', verb: 'prune', pid: 1, started: 't' } })).toBeUndefined();
  });
  it('remembers a pending operation per project', () => {
    const m = new Map<string, string>();
    const s = { getItem: (k: string) => m.get(k) ?? null, setItem: (k: string, v: string) => void m.set(k, v), removeItem: (k: string) => void m.delete(k) };
    expect(pendingOps.get(s, 'p')).toBeUndefined();
    pendingOps.set(s, 'p', { id: 'op1', kind: 'upgrade' });
    expect(pendingOps.get(s, 'p')).toEqual({ id: 'op1', kind: 'upgrade' });
    expect(pendingOps.get(s, 'q')).toBeUndefined();
    m.set('maim.op.q', '{"id":"x","kind":"prune"}');
    expect(pendingOps.get(s, 'q')).toBeUndefined();
    pendingOps.clear(s, 'p');
    expect(pendingOps.get(s, 'p')).toBeUndefined();
  });
  it('names the binary per platform', () => {
    expect(binaryName('win32')).toBe('docker-maim.exe');
    expect(binaryName('darwin')).toBe('docker-maim');
  });
  it('picks the language', () => {
    expect(pickLang('zh-CN')).toBe('zh');
    expect(pickLang('en-US')).toBe('en');
    expect(t('en', 'upgrade.upgraded', { d: humanDuration(2e9) })).toBe('Upgraded. The services were down for 2.0 s.');
    expect(humanBytes(1536)).toBe('1.5 kB');
    expect(humanBytes(2_936_012)).toBe('2.9 MB');
    for (const code of [3, 4, 5, 6, 10, 11, 12, 125, 130, 1]) expect(messages.zh).toHaveProperty(errorKey({ code, message: '' }));
  });
});
