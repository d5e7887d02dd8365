import { describe, expect, it, vi } from 'vitest';
import { containerId, desktop, maim, volumeName } from './client';
import { setClient } from './cli';
import { outcomeToast } from './toasts';
import { t as tr } from './i18n';
import { UpgradeDoc } from './model';

vi.mock('@docker/extension-api-client', () => ({ createDockerDesktopClient: () => { throw new Error('not in Desktop'); } }));

// A scripted Desktop: records what the UI asks of it; docker.cli.exec answers from a table,
// docker-maim's exec with a fixed document.
function fakeDesktop(docker: Record<string, string> = {}, maimOut = '{"schema_version":1}') {
  const seen: string[] = [];
  const rec = (name: string) => (...a: unknown[]) => { seen.push(`${name}(${a.map((x) => JSON.stringify(x)).join(',')})`); return Promise.resolve(); };
  setClient({
    host: { platform: 'linux', openExternal: rec('openExternal') },
    desktopUI: {
      toast: { success: rec('toast.success'), warning: rec('toast.warning'), error: rec('toast.error') },
      navigate: { viewContainers: rec('viewContainers'), viewContainer: rec('viewContainer'), viewVolume: rec('viewVolume') },
      dialog: { showOpenDialog: async () => ({ canceled: false, filePaths: ['/home/me/release/compose.yaml'] }) },
    },
    docker: { cli: { exec: async (cmd: string, a: string[]) => {
      const key = [cmd, ...a].join(' ');
      seen.push(`docker ${key}`);
      return { stdout: docker[key] ?? '', stderr: '', code: 0 };
    } } },
    extension: { host: { cli: { exec(_b: string, a: string[], o: { stream: { onOutput: (d: { stdout?: string }) => void; onClose: (c: number) => void } }) {
      seen.push(`maim ${a.join(' ')}`);
      setTimeout(() => { o.stream.onOutput({ stdout: maimOut }); o.stream.onClose(0); });
    } } } },
  });
  return seen;
}
const id = 'a'.repeat(64);

describe('Desktop through the client', () => {
  it('toasts each kind', () => {
    const seen = fakeDesktop();
    desktop.toast.success('ok'); desktop.toast.warning('hm'); desktop.toast.error('no');
    expect(seen).toEqual(['toast.success("ok")', 'toast.warning("hm")', 'toast.error("no")']);
  });
  it('opens a container by its full ID, found by name', async () => {
    const seen = fakeDesktop({ 'inspect --type container --format {{.Id}} p-bot-1': id + '\n' });
    await desktop.viewContainer('p-bot-1');
    expect(seen).toEqual([`docker inspect --type container --format {{.Id}} p-bot-1`, `viewContainer("${id}")`]);
  });
  it('opens the container list when the container is gone', async () => {
    const seen = fakeDesktop();
    expect(await containerId('gone')).toBeUndefined();
    await desktop.viewContainer('gone');
    expect(seen.at(-1)).toBe('viewContainers()');
  });
  it('opens a compose volume by its engine name, an external one by its own', async () => {
    const seen = fakeDesktop({ 'volume ls -q --filter label=com.docker.compose.project=p --filter label=com.docker.compose.volume=botdata': 'p_botdata\n' });
    await desktop.viewVolume('p', 'botdata');
    expect(seen.at(-1)).toBe('viewVolume("p_botdata")');
    expect(await volumeName('p', 'shared')).toBe('shared');
  });
  it('opens external links through Desktop, and chooses files on the host', async () => {
    const seen = fakeDesktop();
    desktop.openExternal('https://example.org/notes');
    expect(seen).toEqual(['openExternal("https://example.org/notes")']);
    expect(await desktop.chooseFile(['yaml'])).toBe('/home/me/release/compose.yaml');
  });
  it('does nothing outside Desktop', async () => {
    setClient({});
    expect(() => { desktop.toast.success('x'); desktop.openExternal('https://x'); desktop.viewContainers(); }).not.toThrow();
    await expect(desktop.viewVolume('p', 'v')).resolves.toBeUndefined();
  });
});

describe('docker-maim through the client', () => {
  it('plans with the options the CLI offers', async () => {
    const seen = fakeDesktop();
    const r = await maim.plan('p', { images: { bot: 'r/bot:2' }, resetData: ['botdata'], composeFiles: ['/x/compose.yaml', ' '], migrateDb: ['db'] });
    expect(r.doc.schema_version).toBe(1);
    expect(seen).toEqual(['maim -p p upgrade --dry-run --image bot=r/bot:2 --reset-data botdata --compose-file /x/compose.yaml --migrate-db db --format json']);
  });
  it('upgrades detached with the same options and the typed confirmation', async () => {
    const m = new Map<string, string>();
    vi.stubGlobal('localStorage', { getItem: (k: string) => m.get(k) ?? null, setItem: (k: string, v: string) => void m.set(k, v), removeItem: (k: string) => void m.delete(k) });
    const seen = fakeDesktop({}, JSON.stringify({ schema_version: 1, outcome: 'upgraded' }));
    const r = await maim.upgrade('p', { resetData: ['d'], composeFiles: ['/c.yaml'], acceptBreaking: true });
    expect(r.doc.outcome).toBe('upgraded');
    expect(seen).toEqual(['maim -p p upgrade --detach --accept-breaking --reset-data d --compose-file /c.yaml --format json --progress json']);
  });
});

describe('the toast an upgrade ends with', () => {
  const t = (k: string, v?: Record<string, string | number>) => tr('zh', k, v);
  const doc = (outcome: UpgradeDoc['outcome'], error?: boolean): UpgradeDoc => ({ schema_version: 1, outcome, ...(error ? { error: { code: 10, message: 'x' } } : {}) });
  it('is by outcome, in the UI language', () => {
    expect(outcomeToast(t, 'p', doc('upgraded'))).toEqual({ kind: 'success', message: 'p 已升级。' });
    expect(outcomeToast(t, 'p', doc('rolled-back', true))?.kind).toBe('warning');
    expect(outcomeToast(t, 'p', doc('rollback-failed', true))?.kind).toBe('error');
    expect(outcomeToast(t, 'p', doc('failed', true))?.kind).toBe('error');
    expect(outcomeToast(t, 'p', doc('refused', true))?.kind).toBe('warning');
    expect(outcomeToast(t, 'p', doc('dry-run'))).toBeUndefined();
    expect(outcomeToast(t, 'p', doc('nothing-to-do'))).toBeUndefined();
    expect(outcomeToast(t, 'p', { schema_version: 1, error: { code: 5, message: 'engine' } })?.kind).toBe('error');
  });
});
