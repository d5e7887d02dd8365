import { describe, expect, it, vi } from 'vitest';
import { canDetach, follow, runOperation, setClient } from './cli';
import { args, pendingOps } from './model';

// Desktop's client only runs inside Desktop; the tests give cli.ts a scripted host instead.
vi.mock('@docker/extension-api-client', () => ({ createDockerDesktopClient: () => { throw new Error('not in Desktop'); } }));

// A scripted Desktop host: each exec answers from script by its arguments, streaming
// stderr line by line as Desktop does (splitOutputLines), then stdout, then the exit code.
type Reply = { stderr?: string[]; stdout?: string; code: number };
function host(platform: string, script: (a: string[]) => Reply) {
  const calls: string[][] = [];
  setClient({
    host: { platform },
    extension: { host: { cli: { exec(_bin: string, a: string[], o: { stream: { onOutput: (d: { stdout?: string; stderr?: string }) => void; onClose: (c: number) => void } }) {
      calls.push(a);
      const r = script(a);
      setTimeout(() => {
        for (const chunk of r.stderr ?? []) o.stream.onOutput({ stderr: chunk });
        if (r.stdout) o.stream.onOutput({ stdout: r.stdout });
        o.stream.onClose(r.code);
      });
    } } } },
  });
  return calls;
}

function memStore() {
  const m = new Map<string, string>();
  return { getItem: (k: string) => m.get(k) ?? null, setItem: (k: string, v: string) => void m.set(k, v), removeItem: (k: string) => void m.delete(k), m };
}

const started = JSON.stringify({ schema_version: 1, id: 'op1', project: 'p', pid: 7, log: '/s/op1.log', running: true });
const rolledBack = JSON.stringify({ schema_version: 1, outcome: 'rolled-back', backup_id: 'b1', error: { code: 10, message: 'rolled back' } });
const line = (task: string) => JSON.stringify({ time: 't', phase: 'backup', task, bytes: 1, total: 2, rate: 1, status: 'running' });

describe('operations that outlive the UI', () => {
  it('starts detached, then follows the operation to its document and exit code', async () => {
    const calls = host('darwin', (a) => a.includes('--detach') ? { stdout: started, code: 0 }
      : { stderr: [line('a'), line('b')], stdout: rolledBack, code: 10 });
    const store = memStore();
    const seen: string[] = [];
    expect(canDetach()).toBe(true);
    const r = await runOperation('p', 'upgrade', args.upgrade('p', { dryRun: false, detach: canDetach() }), (l) => seen.push(l), store);
    expect(calls).toEqual([args.upgrade('p', { dryRun: false, detach: true }), ['-p', 'p', 'attach', 'op1']]);
    expect(calls[0]).toContain('--detach');
    expect(seen).toEqual([line('a'), line('b')]);
    expect(r.exitCode).toBe(10);
    expect(r.doc).toMatchObject({ outcome: 'rolled-back', backup_id: 'b1' });
    expect(pendingOps.get(store, 'p')).toBeUndefined();
  });

  it('keeps the operation when the tab is left while following, and follows it again', async () => {
    host('linux', (a) => a.includes('--detach') ? { stdout: started, code: 0 } : { stderr: [line('a')], code: 143 });
    const store = memStore();
    const r = await runOperation('p', 'rollback', args.rollback('p', undefined, [], true), undefined, store);
    expect(r.exitCode).toBe(143);
    expect(pendingOps.get(store, 'p')).toEqual({ id: 'op1', kind: 'rollback' });

    const calls = host('linux', () => ({ stderr: [line('a')], stdout: JSON.stringify({ schema_version: 1, project: 'p', backup_id: 'b1' }), code: 0 }));
    const again = await follow('p', pendingOps.get(store, 'p')!, undefined, store);
    expect(calls).toEqual([['-p', 'p', 'attach', 'op1']]);
    expect(again.doc).toMatchObject({ backup_id: 'b1' });
    expect(pendingOps.get(store, 'p')).toBeUndefined();
  });

  it('takes a start that ended before it ran in the background as the result', async () => {
    const calls = host('linux', () => ({ stdout: JSON.stringify({ schema_version: 1, outcome: 'refused', error: { code: 12, message: 'breaking' } }), code: 12 }));
    const store = memStore();
    const r = await runOperation('p', 'upgrade', args.upgrade('p', { dryRun: false, detach: true }), undefined, store);
    expect(calls).toHaveLength(1);
    expect(r.exitCode).toBe(12);
    expect(store.m.size).toBe(0);
  });

  it('does not detach on Windows, where the CLI refuses --detach', async () => {
    const calls = host('win32', () => ({ stdout: rolledBack, code: 10 }));
    expect(canDetach()).toBe(false);
    await runOperation('p', 'upgrade', args.upgrade('p', { dryRun: false, detach: canDetach() }), undefined, memStore());
    expect(calls[0]).not.toContain('--detach');
  });
});
