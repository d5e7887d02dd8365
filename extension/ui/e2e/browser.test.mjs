// Browser end-to-end test of the extension UI: the built UI (build/) served by a small test
// host that provides window.ddClient, whose extension.host.cli.exec runs the REAL
// bin/docker-maim against the real engine and streams its stdout/stderr lines, driven in
// Debian's chromium by playwright-core. On a stand-in project (e2e/standin.sh): project list
// -> backups -> upgrade dry run -> typed confirmation -> progress -> upgraded -> rollback ->
// back on 1.0.0, then a failing upgrade (2.1.0 crashes) that rolls itself back; each step is
// checked on the engine. In the middle of the first upgrade (held at its backed-up failpoint)
// the test leaves the tab as Docker Desktop does (SIGTERM to every streamed process, the page
// gone), comes back, and the UI follows the upgrade, which went on detached, to its end;
// checked on the engine (the container's image, the data schema in the volume), not only on
// the page. Screenshots of every screen in English and Chinese go to ../test-results/.
import { spawn, execFile, execFileSync } from 'node:child_process';
import { createServer } from 'node:http';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, existsSync, copyFileSync, rmSync } from 'node:fs';
import { join, extname, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tmpdir } from 'node:os';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../../..');
const bin = join(root, 'bin', 'docker-maim');
const buildDir = resolve(here, '../build');
const shots = resolve(here, '../../test-results');
const docShots = process.env.MAIM_EXT_DOC_SHOTS ? join(root, 'docs', 'screenshots') : '';
const name = `maimext${process.pid}${Date.now() % 10000}`;
const work = mkdtempSync(join(tmpdir(), 'maim-ext-e2e.'));
const repo = `${process.env.MAIM_TEST_REGISTRY || '127.0.0.1:5001'}/${name}-bot`;
const env = { ...process.env, MAIM_BACKUP_DIR: join(work, 'backups'), MAIM_STATE_DIR: join(work, 'state') };
mkdirSync(shots, { recursive: true });
if (!existsSync(bin)) throw new Error(`${bin} missing: make build first`);
if (!existsSync(join(buildDir, 'index.html'))) throw new Error('build/ missing: npm run build first');

const log = (...a) => console.log('[e2e]', ...a);
const sh = (cmd, args) => execFileSync(cmd, args, { encoding: 'utf8', env }).trim();
const container = () => sh('docker', ['ps', '-q', '--filter', `label=com.docker.compose.project=${name}`, '--filter', 'label=com.docker.compose.service=bot']);
const engineImage = () => sh('docker', ['inspect', '-f', '{{.Config.Image}}', container()]);
const dataSchema = () => JSON.parse(sh('docker', ['exec', container(), '/bin/bot', 'print-config'])).schema;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function until(cond, what, ms = 240_000) {
  for (const end = Date.now() + ms; !(await cond());) { if (Date.now() > end) throw new Error('FAILED: no ' + what); await sleep(50); }
}
// The detached operations' processes (docker-maim's state dir: <engine key>/<project>/ops/*.json).
function detachedPids() {
  const state = join(work, 'state');
  const out = [];
  for (const key of existsSync(state) ? readdirSync(state) : []) {
    const ops = join(state, key, name, 'ops');
    for (const f of existsSync(ops) ? readdirSync(ops) : []) if (f.endsWith('.json')) out.push(JSON.parse(readFileSync(join(ops, f), 'utf8')).pid);
  }
  return out;
}
const alive = (pid) => { try { process.kill(pid, 0); return true; } catch { return false; } };
function expect(cond, what) { if (!cond) throw new Error('FAILED: ' + what); log('ok:', what); }

// The test host: static files, and the exec calls the page makes through an exposed binding.
const server = createServer((req, res) => {
  const p = join(buildDir, decodeURIComponent(new URL(req.url, 'http://x').pathname).replace(/^\/$/, '/index.html'));
  if (!p.startsWith(buildDir) || !existsSync(p)) { res.writeHead(404); res.end(); return; }
  const types = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.svg': 'image/svg+xml' };
  res.writeHead(200, { 'content-type': types[extname(p)] || 'application/octet-stream' });
  res.end(readFileSync(p));
});

const ddClientShim = () => {
  const streams = {};
  let next = 0;
  window.__maimStream = (id, kind, data) => {
    const s = streams[id];
    if (!s) return;
    if (kind === 'close') { delete streams[id]; s.onClose?.(data); } else if (kind === 'error') s.onError?.(data); else s.onOutput?.({ [kind]: data });
  };
  // What the UI asks of Desktop itself (toasts, navigation, external links, the file
  // chooser) is recorded in window.__desktop for the test to check; docker.cli.exec runs the
  // real docker CLI against the engine, as Desktop's does.
  const desktop = [];
  window.__desktop = desktop;
  const rec = (name) => (...a) => { desktop.push({ name, args: a }); return Promise.resolve(); };
  window.ddClient = {
    host: { platform: 'linux', openExternal: rec('openExternal') },
    desktopUI: {
      toast: { success: rec('toast.success'), warning: rec('toast.warning'), error: rec('toast.error') },
      navigate: { viewContainers: rec('viewContainers'), viewContainer: rec('viewContainer'), viewVolume: rec('viewVolume') },
      dialog: { showOpenDialog: async (o) => { desktop.push({ name: 'showOpenDialog', args: [o] }); return { canceled: false, filePaths: [await window.__chosenFile()] }; } },
    },
    docker: { cli: { exec: (cmd, args) => window.__dockerExec(cmd, args) } },
    extension: { host: { cli: { exec(binary, args, opts) { const id = ++next; streams[id] = opts.stream; window.__maimExec(id, binary, args); return { close() {} }; } } } },
  };
};

let browser; let failed = false;
let holdNextUpgrade = false; // the next detached upgrade waits at its backed-up failpoint
let chosenFile = ''; // what the host's file chooser answers
const failpoint = join(work, 'failpoint');
async function main() {
  log('stand-in project', name);
  execFileSync('bash', [join(here, 'standin.sh'), 'up', name, work], { stdio: 'inherit', env });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${server.address().port}/`;
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    // playwright-core gives the browser a fresh profile dir of its own (no --user-data-dir here)
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const ctx = await browser.newContext({ locale: 'en-US', viewport: { width: 1280, height: 900 } });
  const calls = [];
  const streamed = new Set(); // the processes the page streams, as Desktop keeps them
  await ctx.exposeBinding('__maimExec', ({ page }, id, binary, args) => {
    if (binary !== 'docker-maim') throw new Error('unexpected binary ' + binary);
    calls.push(args.join(' '));
    let penv = env;
    if (holdNextUpgrade && args.includes('upgrade') && args.includes('--detach')) {
      holdNextUpgrade = false;
      penv = { ...env, MAIM_FAILPOINT: 'upgrade:backed-up:wait', MAIM_FAILPOINT_FILE: failpoint };
    }
    const p = spawn(bin, args, { env: penv });
    streamed.add(p);
    p.on('exit', () => streamed.delete(p));
    const lines = (kind) => { let buf = ''; return (d) => { buf += d; const ls = buf.split('\n'); buf = ls.pop(); for (const l of ls) page.evaluate(([i, k, l]) => window.__maimStream(i, k, l), [id, kind, l]).catch(() => {}); }; };
    p.stdout.setEncoding('utf8').on('data', lines('stdout'));
    p.stderr.setEncoding('utf8').on('data', lines('stderr'));
    p.on('close', (code) => setTimeout(() => page.evaluate(([i, c]) => window.__maimStream(i, 'close', c), [id, code]).catch(() => {}), 50));
  });
  await ctx.exposeBinding('__dockerExec', (_, cmd, args) => new Promise((res) => {
    execFile('docker', [cmd, ...args], { env, encoding: 'utf8' }, (err, stdout, stderr) => res({ stdout, stderr, code: err ? (err.code ?? 1) : 0 }));
  }));
  await ctx.exposeBinding('__chosenFile', () => chosenFile);
  await ctx.addInitScript(ddClientShim);
  const page = await ctx.newPage();
  page.on('pageerror', (e) => { log('page error', e.message); failed = true; });
  // The engine is shared (other tests' projects come and go): in the projects list's
  // screenshots only this test's project is shown; the page is put back afterwards.
  const onlyOurs = (hide) => page.evaluate(([n, h]) => document.querySelectorAll('[data-testid^="project-"]').forEach((r) => {
    if (r.getAttribute('data-testid') !== `project-${n}` && r.tagName === 'TR') r.style.display = h ? 'none' : '';
  }), [name, hide]);
  const shot = async (file) => {
    await page.waitForTimeout(300);
    const list = file.endsWith('-projects');
    if (list) await onlyOurs(true);
    await page.screenshot({ path: join(shots, file + '.png'), fullPage: true });
    if (list) await onlyOurs(false);
    if (docShots && /^(en|zh)-(projects|upgrade-plan|upgrade-result|rolled-back|backups)$/.test(file)) { mkdirSync(docShots, { recursive: true }); copyFileSync(join(shots, file + '.png'), join(docShots, file + '.png')); }
  };
  const tid = (id) => page.getByTestId(id);
  // Leaving the tab, as Docker Desktop does it: SIGTERM to every streamed process, page gone.
  const leaveTab = async () => {
    for (const p of streamed) p.kill('SIGTERM');
    await page.goto('about:blank');
    await until(() => streamed.size === 0, 'end of the streamed processes');
  };
  const long = { timeout: 240_000 };
  // What the page asked of Desktop since it loaded; waits for a call by name.
  const asked = () => page.evaluate(() => window.__desktop);
  const askedFor = async (name, what) => {
    for (const end = Date.now() + 60_000; ;) {
      const c = (await asked()).filter((x) => x.name === name);
      if (c.length) return c;
      if (Date.now() > end) throw new Error(`FAILED: no ${name}: ${what}`);
      await sleep(100);
    }
  };
  const px = (loc) => loc.evaluate((e) => parseFloat(getComputedStyle(e).fontSize));

  await page.goto(url);
  await tid(`project-${name}`).waitFor({ timeout: 60_000 });
  await page.getByText(`${repo}:1.0.0 (1.0.0)`).first().waitFor(long);
  expect(await px(page.locator('h1')) <= 24, 'the title uses the theme\'s heading size (h3 as h1, not a 60 px h2)');
  await shot('en-projects');
  await tid('view-containers').click();
  await askedFor('viewContainers', 'the Containers button opens Desktop\'s container list');
  await tid(`open-${name}`).click();
  await tid('service-bot').getByText('1.0.0').first().waitFor(long);
  await tid('view-container-bot').click();
  const [vc] = await askedFor('viewContainer', 'a service links to its container');
  expect(vc.args[0] === sh('docker', ['inspect', '-f', '{{.Id}}', container()]), 'the service opens its container in Desktop by its full ID');
  await shot('en-overview');

  // backups: back up now, then verify it
  await tid('tab-backups').click();
  await tid('backup-now').click();
  await tid('backups-message').waitFor(long);
  expect((await askedFor('toast.success', 'a toast after Back up now'))[0].args[0].startsWith('Backup '), 'the backup made shows a success toast');
  await tid('backup-row').first().waitFor(long);
  expect(/^[A-Z][a-z]{2} \d{1,2}, \d{4}, \d{1,2}:\d{2} [AP]M$/.test((await tid('backup-row').first().locator('td').first().innerText()).trim()), 'the backup time is an English date (Intl, en-US)');
  expect((await tid('backup-row').count()) >= 1, 'a backup is listed after "Back up now"');
  await tid('backup-row').first().getByRole('button', { name: 'Verify' }).click();
  await page.getByText(/is intact/).waitFor(long);
  await shot('en-backups');

  // upgrade: the options the CLI offers. A release's new compose file (chosen through the
  // host's file chooser) is planned with --compose-file: the plan adopts it.
  await tid('tab-upgrade').click();
  chosenFile = join(work, 'release', 'compose.yaml');
  mkdirSync(dirname(chosenFile), { recursive: true });
  copyFileSync(join(work, 'project', 'compose.yaml'), chosenFile);
  await tid('choose-compose-file').click();
  await until(async () => (await tid('compose-file').inputValue()) === chosenFile, 'the chosen compose file in its field');
  await tid('plan').click();
  await tid('plan-view').waitFor(long);
  expect(calls.some((c) => c.includes(`--compose-file ${chosenFile}`) && c.includes('--dry-run')), 'the plan ran with --compose-file');
  expect(await tid('plan-steps').locator('[data-phase=adopt]').count() === 1, 'the plan adopts the new compose file (its adopt step)');
  await tid('compose-file').fill('');
  // --reset-data: choosing a source to empty plans again; the plan says it empties it
  await tid('image-bot').fill(`${repo}:2.0.0`);
  await tid('plan').click();
  await tid('plan-change').waitFor(long);
  await tid('reset-botdata').check();
  await tid('reset-chosen').waitFor(long);
  expect(calls.some((c) => c.includes('--reset-data botdata') && c.includes('--dry-run')), 'choosing a source plans with --reset-data');
  expect(await tid('plan-steps').locator('[data-phase=reset]').count() === 1, 'the plan has the reset step');
  await tid('reset-botdata').uncheck();
  await until(async () => (await tid('reset-chosen').count()) === 0 && !(await tid('upgrade-go').isDisabled()), 'the plan without --reset-data');
  await tid('view-volume-botdata').click();
  const [vv] = await askedFor('viewVolume', 'a volume links to Desktop\'s volume view');
  expect(vv.args[0] === `${name}_botdata`, `the volume opens by its engine name (${vv.args[0]})`);
  expect((await tid('plan-change').innerText()).includes('(1.0.0) →'), 'the plan shows 1.0.0 -> 2.0.0');
  expect(await tid('breaking').isVisible(), 'the plan shows the breaking change');
  expect(engineImage() === `${repo}:1.0.0`, 'the dry run changed nothing on the engine');
  await shot('en-upgrade-plan');
  await tid('upgrade-go').click();
  expect(await tid('confirm-ok').isDisabled(), 'a breaking upgrade waits for the typed project name');
  await tid('typed-confirm').fill(name);
  await shot('en-upgrade-confirm');
  holdNextUpgrade = true;
  await tid('confirm-ok').click();
  await tid('upgrade-running').waitFor(long);
  await until(() => existsSync(failpoint), 'upgrade held at its backed-up failpoint');
  await tid('phase').first().waitFor(long);
  await shot('en-upgrade-progress');
  expect(calls.some((c) => c.includes('upgrade') && c.includes('--detach')), 'the UI started the upgrade detached');
  await leaveTab();
  const [pid] = detachedPids();
  expect(pid && alive(pid) && existsSync(failpoint), 'the upgrade goes on after the tab was left (its streamed processes SIGTERMed)');
  const before = calls.length;
  await page.goto(url);
  await tid(`project-${name}`).getByTestId('detached').waitFor(long);
  log('ok: the project list shows the upgrade running in the background (status: detached)');
  await tid(`open-${name}`).click(long);
  await tid('upgrade-running').waitFor(long);
  expect(calls.slice(before).some((c) => / attach /.test(c)), 'coming back, the UI follows the running upgrade again');
  rmSync(failpoint);
  await page.locator('[data-testid=upgrade-result][data-outcome=upgraded]').waitFor(long);
  expect((await askedFor('toast.success', 'a toast when the upgrade ends')).some((x) => x.args[0] === `${name} upgraded.`), 'the upgrade ends with a success toast');
  await shot('en-upgrade-result');
  expect(engineImage() === `${repo}:2.0.0`, 'the engine runs 2.0.0 after the upgrade');
  expect(dataSchema() === 2, 'the data in the volume was migrated to schema 2');

  // rollback with the picker's default (the last upgrade's backup)
  await tid('tab-rollback').click();
  await tid('rollback-go').click();
  await tid('confirm-ok').click();
  await tid('rollback-done').waitFor(long);
  expect((await askedFor('toast.success', 'a toast after the rollback')).some((x) => x.args[0].startsWith('Rolled back')), 'the rollback ends with a success toast');
  await shot('en-rollback');
  expect(engineImage() === `${repo}:1.0.0`, 'the engine runs 1.0.0 again after the rollback');
  expect(dataSchema() === 1, 'the data in the volume is back at schema 1');

  // Chinese: a failing upgrade rolls itself back
  await tid('lang').click();
  await tid('tab-upgrade').click();
  await tid('image-bot').fill(`${repo}:2.1.0`);
  await tid('plan').click();
  await tid('plan-view').waitFor(long);
  await page.getByText('升级计划').waitFor();
  await shot('zh-upgrade-plan');
  await tid('upgrade-go').click();
  await tid('typed-confirm').fill(name);
  await tid('confirm-ok').click();
  await tid('upgrade-running').waitFor(long);
  await tid('phase').first().waitFor(long);
  await shot('zh-upgrade-progress');
  await page.locator('[data-testid=upgrade-result][data-outcome=rolled-back]').waitFor(long);
  const steps = await tid('phase').allInnerTexts();
  expect(steps.length > 0 && steps.every((x) => /[\u4e00-\u9fff]/.test(x) && !/[a-z]{3}/.test(x)), `the steps are in Chinese (${steps.join(', ')})`);
  expect(steps.some((x) => x.startsWith('回滚：')), 'the automatic rollback\'s steps are named as rollback steps');
  expect((await askedFor('toast.warning', 'a toast when the upgrade rolled back')).some((x) => x.args[0].includes('已回滚')), 'the rolled-back upgrade ends with a warning toast in Chinese');
  expect(await tid('rolled-back').isVisible(), 'the failing upgrade shows the automatic rollback');
  expect((await tid('failing-logs').innerText()).includes('crashing on purpose'), "the failing service's last log lines are shown");
  await tid('error').getByRole('button').click();
  await tid('error-details').getByText(/exit 10/).waitFor();
  await shot('zh-rolled-back');
  expect(engineImage() === `${repo}:1.0.0`, 'after the failed upgrade the engine runs 1.0.0');
  expect(dataSchema() === 1, 'after the failed upgrade the data is back at schema 1');

  // the remaining screens in Chinese, and English ones of the failure story
  await tid('tab-overview').click(); await tid('service-bot').waitFor(); await shot('zh-overview');
  await tid('tab-backups').click(); await tid('backup-row').first().waitFor(long); await shot('zh-backups');
  expect((await tid('backup-row').first().locator('td').first().innerText()).includes('年'), 'the backup time is a Chinese date (Intl, zh-CN)');
  expect(!/\b(complete|manual|upgrade)\b/.test(await tid('backups-screen').innerText()), 'no English status or reason in the Chinese backups list');
  await tid('tab-rollback').click(); await shot('zh-rollback');
  await tid('back').click(); await tid(`project-${name}`).waitFor(long); await page.getByText('本机上的项目').waitFor(); await shot('zh-projects');
  await tid('lang').click(); await page.getByText('Projects on this engine').waitFor(); await shot('en-projects');
  await tid(`open-${name}`).click(); await tid('tab-upgrade').click();
  expect(calls.every((c) => c.includes('--format json') || / attach /.test(c)), 'every call asked for JSON (attach prints the document its operation asked for)');
  expect(calls.some((c) => c.includes('upgrade') && c.includes('--progress json')), 'the upgrade streamed --progress json');
  log(`${calls.length} docker-maim calls`);
}

main().catch((e) => { failed = true; console.error(e); }).finally(async () => {
  await browser?.close().catch(() => {});
  server.close();
  try { execFileSync('bash', [join(here, 'standin.sh'), 'down', name, work], { stdio: 'inherit', env }); } catch (e) { console.error('cleanup:', e.message); failed = true; }
  const left = sh('docker', ['ps', '-aq', '--filter', `label=com.docker.compose.project=${name}`]) + sh('docker', ['volume', 'ls', '-q', '--filter', `label=com.docker.compose.project=${name}`]);
  if (left) { console.error('left behind:', left); failed = true; }
  log(failed ? 'FAIL' : 'PASS', `(screenshots in ${shots})`);
  process.exit(failed ? 1 : 0);
});
