import { createContext, useCallback, useContext, useEffect, useMemo, useState } from 'react';
import {
  Alert, AlertTitle, Box, Button, Checkbox, Chip, Collapse, Dialog, DialogActions, DialogContent, DialogTitle,
  FormControlLabel, LinearProgress, Link, MenuItem, Paper, Stack, Tab, Table, TableBody, TableCell, TableHead, TableRow, Tabs,
  TextField, Typography,
} from '@mui/material';
import { desktop, maim } from './client';
import { Lang, WordGroup, pickLang, t as tr, tn as trn, word } from './i18n';
import { formatDate, formatDuration, formatSeconds } from './format';
import { outcomeToast } from './toasts';
import {
  BackupsDoc, CliError, ProjectsDoc, ProjectSummary, RestoreDoc, RollbackDoc, StatusDoc,
  UpgradeDoc, ProgressState, applyLine, changes, emptyProgress, errorKey, humanBytes,
  logLines, needsTypedConfirm, percent, PendingOp, opTab, pendingOps, runningOp, stepWords,
} from './model';

type T = (k: string, v?: Record<string, string | number>) => string;

/** The UI language's counted messages, names, dates and durations (see i18n.ts, format.ts). */
interface L { lang: Lang; tn: (k: string, n: number, v?: Record<string, string | number>) => string; w: (g: WordGroup, name?: string) => string; date: (iso?: string) => string; dur: (ns?: number) => string; secs: (s?: number) => string }
const LCtx = createContext<L>(null as unknown as L);
const useL = () => useContext(LCtx);

function ErrorBox({ t, error }: { t: T; error: CliError }) {
  const [open, setOpen] = useState(false);
  return (
    <Alert severity="error" data-testid="error" sx={{ my: 1 }}
      action={<Button color="inherit" size="small" onClick={() => setOpen(!open)}>{t('common.details')}</Button>}>
      <AlertTitle>{t('err.title')}</AlertTitle>
      {t(errorKey(error))}
      <Collapse in={open}><Box component="pre" data-testid="error-details" sx={{ whiteSpace: 'pre-wrap', fontSize: 12 }}>{`exit ${error.code}: ${error.message}`}</Box></Collapse>
    </Alert>
  );
}

function Progress({ t, p }: { t: T; p: ProgressState }) {
  const l = useL();
  const step = (ph: string) => stepWords(ph).map(([g, n]) => l.w(g, n)).join(l.lang === 'zh' ? '：' : ': ');
  return (
    <Box data-testid="progress" sx={{ my: 2 }}>
      <Stack direction="row" spacing={1} sx={{ mb: 1, flexWrap: 'wrap' }}>
        {p.phases.map((ph, i) => <Chip key={ph} size="small" label={step(ph)} color={i === p.phases.length - 1 ? 'primary' : 'default'} data-testid="phase" data-phase={ph} />)}
      </Stack>
      {p.tasks.map((k) => {
        const pct = percent(k);
        return (
          <Box key={k.phase + k.task} sx={{ mb: 1 }} data-testid="task">
            <Typography variant="body2">{step(k.phase)} · {k.task}: {humanBytes(k.bytes)} / {k.total ? humanBytes(k.total) : '?'}
              {' '}({k.status === 'running' ? t('upgrade.eta', { pct: pct === undefined ? '?' : `${pct}%`, rate: humanBytes(k.rate), eta: l.secs(k.eta) }) : l.w('taskStatus', k.status)})</Typography>
            <LinearProgress variant={pct === undefined ? 'indeterminate' : 'determinate'} value={pct ?? 0} color={k.status === 'error' ? 'error' : 'primary'} />
          </Box>
        );
      })}
      {p.events.slice(-4).map((e, i) => <Typography key={i} variant="caption" display="block" color="text.secondary">{e.split('\n')[0]}</Typography>)}
    </Box>
  );
}

function ProjectsScreen({ t, open }: { t: T; open: (p: ProjectSummary) => void }) {
  const l = useL();
  const [doc, setDoc] = useState<ProjectsDoc>();
  const [statuses, setStatuses] = useState<Record<string, StatusDoc>>({});
  const load = useCallback(async () => {
    setDoc(undefined);
    const r = await maim.projects();
    setDoc(r.doc);
    for (const p of r.doc.projects ?? []) {
      maim.status(p.name).then((s) => setStatuses((m) => ({ ...m, [p.name]: s.doc })));
    }
  }, []);
  useEffect(() => { load(); }, [load]);
  return (
    <Box data-testid="projects-screen">
      <Stack direction="row" justifyContent="space-between" alignItems="center">
        <Typography variant="h3">{t('projects.title')}</Typography>
        <Stack direction="row" spacing={1}>
          <Button onClick={() => desktop.viewContainers()} data-testid="view-containers">{t('common.containers')}</Button>
          <Button onClick={load}>{t('common.refresh')}</Button>
        </Stack>
      </Stack>
      {!doc && <LinearProgress />}
      {doc?.error && <ErrorBox t={t} error={doc.error} />}
      {doc && !doc.error && (doc.projects ?? []).length === 0 && <Typography>{t('projects.none')}</Typography>}
      {doc && (doc.projects ?? []).length > 0 && (
        <Table size="small">
          <TableHead><TableRow>
            <TableCell>{t('projects.name')}</TableCell><TableCell>{t('projects.images')}</TableCell>
            <TableCell>{t('projects.state')}</TableCell><TableCell>{t('projects.lastUpgrade')}</TableCell><TableCell />
          </TableRow></TableHead>
          <TableBody>
            {doc.projects!.map((p) => {
              const st = statuses[p.name];
              return (
                <TableRow key={p.name} data-testid={`project-${p.name}`}>
                  <TableCell><b>{p.name}</b>{st?.interrupted && <Chip size="small" color="warning" label={t('interrupted.title')} sx={{ ml: 1 }} />}
                    {st?.detached && <Chip size="small" color="info" label={t('detached.running', { verb: l.w('op', st.detached.verb) })} sx={{ ml: 1 }} data-testid="detached" />}</TableCell>
                  <TableCell>{(st?.services ?? []).map((s) => <div key={s.container}>{s.service}: {s.image}{s.version ? ` (${s.version})` : ''}</div>)}
                    {!st && p.services.join(', ')}</TableCell>
                  <TableCell>{t('projects.running', { n: p.running, m: p.containers })}
                    {(st?.services ?? []).map((s) => s.health ? <Chip key={s.container} size="small" label={`${s.service}: ${l.w('health', s.health)}`} sx={{ ml: 1 }} /> : null)}</TableCell>
                  <TableCell>{st?.last_upgrade ? `${l.w('outcome', st.last_upgrade.result)} · ${l.date(st.last_upgrade.finished ?? st.last_upgrade.started)}` : t('projects.never')}</TableCell>
                  <TableCell><Button variant="outlined" onClick={() => open(p)} data-testid={`open-${p.name}`}>{t('projects.open')}</Button></TableCell>
                </TableRow>
              );
            })}
          </TableBody>
        </Table>
      )}
    </Box>
  );
}

function Confirm({ t, open, title, body, typed, onCancel, onOk, okLabel }: { t: T; open: boolean; title: string; body: string; typed?: string; onCancel: () => void; onOk: () => void; okLabel: string }) {
  const [text, setText] = useState('');
  useEffect(() => { if (open) setText(''); }, [open]);
  return (
    <Dialog open={open} onClose={onCancel}>
      <DialogTitle>{title}</DialogTitle>
      <DialogContent>
        <Typography sx={{ mb: 2 }}>{body}</Typography>
        {typed && <>
          <Alert severity="warning" sx={{ mb: 1 }}>{t('upgrade.typed', { project: typed })}</Alert>
          <TextField fullWidth size="small" value={text} onChange={(e) => setText(e.target.value)} inputProps={{ 'data-testid': 'typed-confirm' }} />
        </>}
      </DialogContent>
      <DialogActions>
        <Button onClick={onCancel}>{t('common.cancel')}</Button>
        <Button variant="contained" color={typed ? 'error' : 'primary'} disabled={!!typed && text !== typed} onClick={onOk} data-testid="confirm-ok">{okLabel}</Button>
      </DialogActions>
    </Dialog>
  );
}

function Overview({ t, st }: { t: T; st?: StatusDoc }) {
  const l = useL();
  if (!st) return <LinearProgress />;
  if (st.error) return <ErrorBox t={t} error={st.error} />;
  const u = st.last_upgrade;
  return (
    <Box data-testid="overview">
      <Table size="small">
        <TableHead><TableRow>{['status.service', 'status.image', 'status.version', 'status.state', 'status.health'].map((k) => <TableCell key={k}>{t(k)}</TableCell>)}</TableRow></TableHead>
        <TableBody>{(st.services ?? []).map((s) => (
          <TableRow key={s.container} data-testid={`service-${s.service}`}>
            <TableCell><Link component="button" variant="body2" title={t('common.viewContainer', { name: s.container })} onClick={() => desktop.viewContainer(s.container)} data-testid={`view-container-${s.service}`}>{s.service}</Link></TableCell>
            <TableCell>{s.image}</TableCell><TableCell>{s.version ?? '-'}</TableCell><TableCell>{l.w('state', s.state)}</TableCell><TableCell>{s.health ? l.w('health', s.health) : '-'}</TableCell></TableRow>
        ))}</TableBody>
      </Table>
      <Typography sx={{ mt: 2 }} data-testid="last-upgrade">{u ? t('status.lastUpgrade', { result: l.w('outcome', u.result), time: l.date(u.finished ?? u.started), downtime: l.dur(u.downtime_ns) }) : t('status.noUpgrade')}</Typography>
      {st.backups !== undefined && <Typography variant="body2" color="text.secondary" data-testid="backup-count">{l.tn('backups.count', st.backups)}</Typography>}
    </Box>
  );
}

function Backups({ t, project, refresh, reattach, reattached }: { t: T; project: string; refresh: () => void; reattach?: PendingOp; reattached?: () => void }) {
  const l = useL();
  const [doc, setDoc] = useState<BackupsDoc>();
  const [msg, setMsg] = useState<string>();
  const [err, setErr] = useState<CliError>();
  const [busy, setBusy] = useState(false);
  const [prog, setProg] = useState<ProgressState>(emptyProgress());
  const [ask, setAsk] = useState<{ title: string; body: string; ok: () => void }>();
  const load = useCallback(async () => setDoc((await maim.backups(project)).doc), [project]);
  useEffect(() => { load(); }, [load]);
  const onLine = (line: string) => setProg((p) => applyLine(p, line));
  // An action's outcome: in the page, and as Desktop's toast (it stays seen when the user
  // looks elsewhere in Desktop).
  const act = async <D extends { error?: CliError }>(a: (onLine: (l: string) => void) => Promise<{ doc: D }>, done: (d: D) => string) => {
    setBusy(true); setMsg(undefined); setErr(undefined); setProg(emptyProgress());
    const r = await a(onLine);
    setBusy(false);
    if (r.doc.error) { setErr(r.doc.error); desktop.toast.error(t(errorKey(r.doc.error))); } else { const m = done(r.doc); setMsg(m); desktop.toast.success(m); }
    load(); refresh();
  };
  const restored = (id: string) => (d: RestoreDoc) => t('backups.restored', { id: d.backup_id ?? id, safety: d.safety_backup_id ?? '-' });
  const restore = (id: string) => act<RestoreDoc>((f) => maim.restore(project, id, f), restored(id));
  useEffect(() => {
    if (reattach?.kind !== 'restore') return;
    reattached?.();
    act<RestoreDoc>((f) => maim.follow<RestoreDoc>(project, reattach, f), restored(''));
  }, [reattach]); // eslint-disable-line react-hooks/exhaustive-deps
  const prune = async () => {
    const r = await maim.prune(project, true);
    if (r.doc.error) { setErr(r.doc.error); return; }
    const ids = (r.doc.removed ?? []).map((x) => x.id);
    if (!ids.length) { setMsg(t('backups.pruneNothing')); return; }
    setAsk({ title: t('backups.prune'), body: t('backups.pruneConfirm', { ids: ids.join(', ') }), ok: () => act(() => maim.prune(project, false), (d) => l.tn('backups.pruned', (d.removed ?? []).length)) });
  };
  return (
    <Box data-testid="backups-screen">
      <Stack direction="row" spacing={1} sx={{ mb: 1 }}>
        <Button variant="contained" disabled={busy} data-testid="backup-now" onClick={() => act((f) => maim.backup(project, f), (d) => t('backups.backedUp', { id: d.id ?? '', bytes: humanBytes(d.bytes) }))}>{t('backups.backupNow')}</Button>
        <Button disabled={busy} onClick={prune} data-testid="prune">{t('backups.prune')}</Button>
      </Stack>
      {busy && <><LinearProgress /><Progress t={t} p={prog} /></>}
      {msg && <Alert severity="success" data-testid="backups-message">{msg}</Alert>}
      {err && <ErrorBox t={t} error={err} />}
      {!doc && <LinearProgress />}
      {doc?.error && <ErrorBox t={t} error={doc.error} />}
      {doc && (doc.backups ?? []).length === 0 && <Typography>{t('backups.none')}</Typography>}
      {doc && (doc.backups ?? []).length > 0 && (
        <Table size="small">
          <TableHead><TableRow>{['backups.time', 'backups.reason', 'backups.size', 'backups.status', 'backups.versions'].map((k) => <TableCell key={k}>{t(k)}</TableCell>)}<TableCell /></TableRow></TableHead>
          <TableBody>{doc.backups!.map((b) => (
            <TableRow key={b.id} data-testid="backup-row">
              <TableCell title={b.id}>{b.time ? l.date(b.time) : b.id}</TableCell>
              <TableCell>{b.reason ? l.w('reason', b.reason) : '-'}</TableCell>
              <TableCell>{humanBytes(b.size)}</TableCell>
              <TableCell><Chip size="small" label={l.w('backupStatus', b.status)} color={b.status === 'complete' ? 'success' : 'warning'} title={b.problem} /></TableCell>
              <TableCell>{b.sources.join(', ')}</TableCell>
              <TableCell>
                <Button size="small" disabled={busy || b.status !== 'complete'} onClick={() => act((f) => maim.verify(project, b.id, f), (d) => t('backups.verified', { id: b.id, archives: l.tn('archives', d.archives ?? 0), bytes: humanBytes(d.bytes) }))}>{t('backups.verify')}</Button>
                <Button size="small" disabled={busy || b.status !== 'complete'} onClick={() => setAsk({ title: t('backups.restore'), body: t('backups.restoreConfirm', { id: b.id }), ok: () => restore(b.id) })}>{t('backups.restore')}</Button>
              </TableCell>
            </TableRow>
          ))}</TableBody>
        </Table>
      )}
      <Confirm t={t} open={!!ask} title={ask?.title ?? ''} body={ask?.body ?? ''} okLabel={ask?.title ?? ''} onCancel={() => setAsk(undefined)} onOk={() => { const a = ask; setAsk(undefined); a?.ok(); }} />
    </Box>
  );
}

/** The kinds of data source --reset-data can empty (data, not the project's own files). */
const resettable = (kind: string) => kind === 'volume' || kind === 'bind-dir';

function Upgrade({ t, project, st, refresh, reattach, reattached }: { t: T; project: string; st?: StatusDoc; refresh: () => void; reattach?: PendingOp; reattached?: () => void }) {
  const l = useL();
  const [images, setImages] = useState<Record<string, string>>({});
  const [composeFile, setComposeFile] = useState('');
  const [resetData, setResetData] = useState<string[]>([]);
  const [plan, setPlan] = useState<UpgradeDoc>();
  const [planning, setPlanning] = useState(false);
  const [confirm, setConfirm] = useState(false);
  const [running, setRunning] = useState(false);
  const [prog, setProg] = useState<ProgressState>(emptyProgress());
  const [result, setResult] = useState<UpgradeDoc>();
  const services = (st?.services ?? []).map((s) => s.service);
  const [migrateDb, setMigrateDb] = useState<string[]>([]);
  const options = (reset = resetData, migrate = migrateDb) => ({ images, resetData: reset, migrateDb: migrate, composeFiles: composeFile ? [composeFile] : [] });
  const doPlan = async (reset = resetData, migrate = migrateDb) => {
    setPlanning(true); setResult(undefined);
    setPlan((await maim.plan(project, options(reset, migrate))).doc);
    setPlanning(false);
  };
  // --migrate-db: a PostgreSQL major rise (refused without it) carried out by dump and load; plan again.
  const toggleMigrate = (svc: string, on: boolean) => {
    const next = on ? [...migrateDb, svc] : migrateDb.filter((x) => x !== svc);
    setMigrateDb(next); doPlan(resetData, next);
  };
  // Choosing what --reset-data empties changes the plan (a reset step, the typed confirmation): plan again.
  const toggleReset = (name: string, on: boolean) => {
    const next = on ? [...resetData, name] : resetData.filter((x) => x !== name);
    setResetData(next); doPlan(next);
  };
  const breaking = needsTypedConfirm(plan?.plan);
  const onLine = (line: string) => setProg((p) => applyLine(p, line));
  const finish = (doc: UpgradeDoc) => {
    setRunning(false); setResult(doc); refresh();
    const n = outcomeToast(t, project, doc);
    if (n) desktop.toast[n.kind](n.message);
  };
  const go = async () => {
    setConfirm(false); setRunning(true); setProg(emptyProgress());
    finish((await maim.upgrade(project, { ...options(), acceptBreaking: breaking }, onLine)).doc);
  };
  // The UI opened while an upgrade it started runs (or ended unseen): follow it again.
  useEffect(() => {
    if (reattach?.kind !== 'upgrade') return;
    reattached?.();
    setRunning(true); setProg(emptyProgress());
    maim.follow<UpgradeDoc>(project, reattach, onLine).then((r) => finish(r.doc));
  }, [reattach]); // eslint-disable-line react-hooks/exhaustive-deps
  const logs = prog.events.flatMap((e) => /last log lines/i.test(e) ? logLines(e) : []);
  const p = plan?.plan;
  const choose = async () => { const f = await desktop.chooseFile(['yaml', 'yml']); if (f) setComposeFile(f); };
  return (
    <Box data-testid="upgrade-screen">
      {!result && !running && <>
        <Typography variant="body2" sx={{ mb: 1 }}>{t('upgrade.targetHelp')}</Typography>
        {services.map((s) => <TextField key={s} size="small" fullWidth sx={{ mb: 1 }} label={t('upgrade.newImage', { svc: s })} value={images[s] ?? ''}
          onChange={(e) => setImages({ ...images, [s]: e.target.value })} inputProps={{ 'data-testid': `image-${s}` }} />)}
        <Typography variant="h4" sx={{ mt: 1, mb: 1 }}>{t('upgrade.options')}</Typography>
        <Stack direction="row" spacing={1} alignItems="flex-start" sx={{ mb: 1 }}>
          <TextField size="small" fullWidth label={t('upgrade.composeFile')} helperText={t('upgrade.composeFileHelp')} value={composeFile}
            onChange={(e) => setComposeFile(e.target.value)} inputProps={{ 'data-testid': 'compose-file' }} />
          <Button variant="outlined" onClick={choose} data-testid="choose-compose-file" sx={{ whiteSpace: 'nowrap' }}>{t('upgrade.chooseFile')}</Button>
        </Stack>
        <Button variant="outlined" onClick={() => doPlan()} disabled={planning} data-testid="plan">{t('upgrade.plan')}</Button>
        {planning && <LinearProgress sx={{ mt: 1 }} />}
      </>}
      {plan?.error && !result && <ErrorBox t={t} error={plan.error} />}
      {p && !result && !running && (
        <Paper variant="outlined" sx={{ p: 2, mt: 2 }} data-testid="plan-view">
          <Typography variant="h3">{t('upgrade.planTitle')}</Typography>
          {p.nothing_to_do ? <Typography data-testid="nothing">{t('upgrade.nothing')}</Typography> : <>
            <Typography variant="h4" sx={{ mt: 1 }}>{t('upgrade.images')}</Typography>
            {changes(p).map((c) => <Typography key={c.service} data-testid="plan-change">{c.service}: {c.old_ref} ({c.old_version ?? '?'}) → {c.new_ref} ({c.new_version ?? '?'})</Typography>)}
            {(p.breaking ?? []).length > 0 && <Alert severity="warning" sx={{ mt: 1 }} data-testid="breaking"><AlertTitle>{t('upgrade.breaking')}</AlertTitle>
              {p.breaking!.map((b) => <div key={b.service + b.reason}>{b.service}: {b.reason} {b.notes && <Link component="button" variant="body2" onClick={() => desktop.openExternal(b.notes!)} data-testid="release-notes">{t('upgrade.notes')}</Link>}</div>)}</Alert>}
            {(p.phases ?? []).length > 0 && <><Typography variant="h4" sx={{ mt: 1 }}>{t('upgrade.steps')}</Typography>
              <Stack direction="row" spacing={1} sx={{ flexWrap: 'wrap' }} data-testid="plan-steps">
                {p.phases!.filter((s) => !s.skipped).map((s) => <Chip key={s.name} size="small" variant="outlined" label={l.w('phase', s.name)} title={s.description} data-phase={s.name} />)}
              </Stack></>}
            <Typography variant="h4" sx={{ mt: 1 }}>{t('upgrade.data', { bytes: humanBytes(p.estimated_backup_bytes), free: humanBytes(p.free_bytes) })}</Typography>
            {(p.sources ?? []).map((s) => (
              <Stack key={s.name} direction="row" alignItems="center" spacing={1} data-testid={`source-${s.name}`}>
                <Typography variant="body2">{s.kind === 'volume'
                  ? <Link component="button" variant="body2" title={t('common.viewVolume', { name: s.name })} onClick={() => desktop.viewVolume(project, s.name)} data-testid={`view-volume-${s.name}`}>{s.name}</Link>
                  : s.name} ({l.w('kind', s.kind)}): {humanBytes(s.bytes)}{s.not_backed_up ? ` — ${s.not_backed_up}` : ''}</Typography>
                {resettable(s.kind) && <FormControlLabel sx={{ ml: 1 }} label={<Typography variant="body2">{t('upgrade.reset')}</Typography>}
                  control={<Checkbox size="small" checked={resetData.includes(s.name)} disabled={planning} onChange={(e) => toggleReset(s.name, e.target.checked)} inputProps={{ 'data-testid': `reset-${s.name}` } as object} />} />}
              </Stack>))}
            {(p.reset_data ?? []).length > 0 && <Alert severity="warning" sx={{ mt: 1 }} data-testid="reset-chosen">{t('upgrade.resetChosen', { sources: p.reset_data!.join(', ') })} {t('upgrade.resetHelp')}</Alert>}
            {(p.databases ?? []).length > 0 && <><Typography variant="h4" sx={{ mt: 1 }}>{t('upgrade.databases')}</Typography>
              {p.databases!.map((d) => <Typography key={d.service} variant="body2" title={d.reason} data-testid={`database-${d.service}`}>
                {t('upgrade.database', { service: d.service, engine: d.engine, from: d.data_version ?? '-', to: d.new_version || '?', decision: l.w('decision', d.decision) })}
                {d.engine === 'postgresql' && (d.decision === 'refused' || d.decision === 'migrate' || migrateDb.includes(d.service)) && <FormControlLabel sx={{ ml: 1 }} label={<Typography variant="body2">{t('upgrade.migrateDb')}</Typography>}
                  control={<Checkbox size="small" checked={migrateDb.includes(d.service)} disabled={planning} onChange={(e) => toggleMigrate(d.service, e.target.checked)} inputProps={{ 'data-testid': `migrate-${d.service}` } as object} />} />}</Typography>)}</>}
            {(p.config_merges ?? []).length > 0 && <><Typography variant="h4" sx={{ mt: 1 }}>{t('upgrade.configs')}</Typography>
              {p.config_merges!.map((m) => <Box key={m.file}><Typography variant="body2">{m.file}: {l.w('action', m.action)}{m.report.version ? ` ${m.report.version.from} → ${m.report.version.to}` : ''}</Typography>
                {m.diff && <Box component="pre" sx={{ fontSize: 12, bgcolor: 'action.hover', p: 1, overflow: 'auto', maxHeight: 200 }}>{m.diff}</Box>}</Box>)}</>}
            <Typography sx={{ mt: 1 }}>{t('upgrade.downtime', { d: l.dur(p.expected_downtime_ns) })}</Typography>
            {(p.warnings ?? []).map((w) => <Alert key={w} severity="info">{w}</Alert>)}
            <Button variant="contained" sx={{ mt: 2 }} disabled={planning} onClick={() => setConfirm(true)} data-testid="upgrade-go">{t('upgrade.confirm')}</Button>
          </>}
        </Paper>
      )}
      {running && <Box data-testid="upgrade-running"><Typography variant="h3">{t('upgrade.running')}</Typography><LinearProgress /><Progress t={t} p={prog} /></Box>}
      {result && (
        <Box data-testid="upgrade-result" data-outcome={result.outcome}>
          {result.outcome === 'upgraded' && <Alert severity="success">{t('upgrade.upgraded', { d: l.dur(result.downtime_ns) })}<br />{t('upgrade.backupId', { id: result.backup_id ?? '-' })}</Alert>}
          {result.outcome === 'rolled-back' && <Alert severity="warning" data-testid="rolled-back">{t('upgrade.rolledBack')}<br />{t('upgrade.backupId', { id: result.backup_id ?? '-' })}</Alert>}
          {result.outcome === 'rollback-failed' && <Alert severity="error">{t('upgrade.rollbackFailed')}<Box component="pre">{(result.recovery ?? []).join('\n')}</Box></Alert>}
          {result.outcome === 'failed' && <Alert severity="error">{t('upgrade.failed')}</Alert>}
          {result.outcome === 'refused' && <Alert severity="info">{t('upgrade.refused')}</Alert>}
          {logs.length > 0 && <Paper variant="outlined" sx={{ p: 1, mt: 1 }} data-testid="failing-logs"><Typography variant="h4">{t('upgrade.logs')}</Typography><Box component="pre" sx={{ fontSize: 12 }}>{logs.join('\n')}</Box></Paper>}
          {result.error && <ErrorBox t={t} error={result.error} />}
          <Progress t={t} p={prog} />
          <Button onClick={() => { setResult(undefined); setPlan(undefined); }} data-testid="upgrade-again">{t('upgrade.again')}</Button>
        </Box>
      )}
      <Confirm t={t} open={confirm} title={t('upgrade.confirmTitle', { project })} body={t('upgrade.confirmBody')} typed={breaking ? project : undefined} okLabel={t('upgrade.confirm')} onCancel={() => setConfirm(false)} onOk={go} />
    </Box>
  );
}

function Rollback({ t, project, refresh, resolveNow, reattach, reattached }: { t: T; project: string; refresh: () => void; resolveNow?: boolean; reattach?: PendingOp; reattached?: () => void }) {
  const [backups, setBackups] = useState<BackupsDoc>();
  const [pick, setPick] = useState('');
  const [ask, setAsk] = useState(false);
  const [running, setRunning] = useState(false);
  const [prog, setProg] = useState<ProgressState>(emptyProgress());
  const [res, setRes] = useState<RollbackDoc>();
  const l = useL();
  useEffect(() => { maim.backups(project).then((r) => setBackups(r.doc)); }, [project]);
  const onLine = (line: string) => setProg((p) => applyLine(p, line));
  const finish = (d: RollbackDoc) => {
    setRunning(false); setRes(d); refresh();
    if (d.error) desktop.toast.error(t(errorKey(d.error))); else desktop.toast.success(t('rollback.done', { id: d.backup_id || '-' }));
  };
  const go = async () => {
    setAsk(false); setRunning(true); setRes(undefined); setProg(emptyProgress());
    finish((await maim.rollback(project, pick || undefined, onLine)).doc);
  };
  useEffect(() => {
    if (reattach?.kind !== 'rollback') return;
    reattached?.();
    setRunning(true); setRes(undefined); setProg(emptyProgress());
    maim.follow<RollbackDoc>(project, reattach, onLine).then((r) => finish(r.doc));
  }, [reattach]); // eslint-disable-line react-hooks/exhaustive-deps
  useEffect(() => { if (resolveNow) go(); }, [resolveNow]); // eslint-disable-line react-hooks/exhaustive-deps
  return (
    <Box data-testid="rollback-screen">
      <Typography variant="h3">{t('rollback.title')}</Typography>
      <TextField select size="small" sx={{ minWidth: 360, my: 1 }} label={t('rollback.pick')} value={pick} onChange={(e) => setPick(e.target.value)} SelectProps={{ SelectDisplayProps: { 'data-testid': 'rollback-pick' } as object }}>
        <MenuItem value="">{t('rollback.last')}</MenuItem>
        {(backups?.backups ?? []).filter((b) => b.status === 'complete').map((b) => <MenuItem key={b.id} value={b.id}>{b.time ? l.date(b.time) : b.id} · {b.reason ? l.w('reason', b.reason) : ''} · {humanBytes(b.size)}</MenuItem>)}
      </TextField>
      <Box><Button variant="contained" color="warning" disabled={running} onClick={() => setAsk(true)} data-testid="rollback-go">{t('rollback.go')}</Button></Box>
      {running && <><Typography>{t('rollback.running')}</Typography><LinearProgress /></>}
      {(running || res) && <Progress t={t} p={prog} />}
      {res && !res.error && <Alert severity="success" data-testid="rollback-done">{res.resolved ? t('rollback.resolved', { op: l.w('op', res.resolved) }) + ' ' : ''}{t('rollback.done', { id: res.backup_id || '-' })}</Alert>}
      {res?.error && <ErrorBox t={t} error={res.error} />}
      <Confirm t={t} open={ask} title={t('rollback.go')} body={t('rollback.confirm', { project, id: pick || t('rollback.last') })} okLabel={t('rollback.go')} onCancel={() => setAsk(false)} onOk={go} />
    </Box>
  );
}

function ProjectScreen({ t, project, back }: { t: T; project: string; back: () => void }) {
  // An operation this UI started in the background and did not see end: show its tab and
  // follow it (the user left the tab in the middle of it, and came back).
  // An operation started from the CLI with --detach is found by status: the same.
  const [reattach, setReattach] = useState<PendingOp | undefined>(() => pendingOps.get(localStorage, project));
  const [tab, setTab] = useState(reattach ? opTab[reattach.kind] : 0);
  const [st, setSt] = useState<StatusDoc>();
  const [checked, setChecked] = useState(!!reattach);
  useEffect(() => {
    if (checked || !st) return;
    setChecked(true);
    const op = runningOp(undefined, st);
    if (op) { setReattach(op); setTab(opTab[op.kind]); }
  }, [st, checked]);
  const reattached = useCallback(() => setReattach(undefined), []);
  const [resolve, setResolve] = useState(false);
  const l = useL();
  const refresh = useCallback(() => { maim.status(project).then((r) => setSt(r.doc)); }, [project]);
  useEffect(() => { refresh(); }, [refresh]);
  const inter = st?.interrupted;
  return (
    <Box data-testid="project-screen">
      <Button onClick={back} data-testid="back">← {t('common.back')}</Button>
      <Stack direction="row" spacing={1} alignItems="center" sx={{ my: 1 }}>
        <Typography variant="h3">{project}</Typography>
        <Button size="small" onClick={() => desktop.viewContainers()} data-testid="project-containers">{t('common.containers')}</Button>
      </Stack>
      {inter && (
        <Alert severity="warning" data-testid="interrupted" action={<Button color="inherit" onClick={() => { setTab(3); setResolve(true); }} data-testid="resolve">{t('interrupted.resolve')}</Button>}>
          <AlertTitle>{t('interrupted.title')}</AlertTitle>
          {t('interrupted.body', { op: l.w('op', inter.op), phase: l.w('phase', inter.phase), time: l.date(inter.updated) })}
          <Box component="pre" sx={{ fontSize: 12, m: 0 }}>{inter.resolve.join('\n')}</Box>
        </Alert>
      )}
      <Tabs value={tab} onChange={(_, v) => { setTab(v); setResolve(false); }}>
        <Tab label={t('tab.overview')} data-testid="tab-overview" />
        <Tab label={t('tab.backups')} data-testid="tab-backups" />
        <Tab label={t('tab.upgrade')} data-testid="tab-upgrade" />
        <Tab label={t('tab.rollback')} data-testid="tab-rollback" />
      </Tabs>
      <Box sx={{ pt: 2 }}>
        {tab === 0 && <Overview t={t} st={st} />}
        {tab === 1 && <Backups t={t} project={project} refresh={refresh} reattach={reattach} reattached={reattached} />}
        {tab === 2 && <Upgrade t={t} project={project} st={st} refresh={refresh} reattach={reattach} reattached={reattached} />}
        {tab === 3 && <Rollback t={t} project={project} refresh={refresh} resolveNow={resolve} reattach={reattach} reattached={reattached} />}
      </Box>
    </Box>
  );
}

export default function App() {
  const [lang, setLang] = useState<Lang>(() => (localStorage.getItem('maim.lang') as Lang) || pickLang(navigator.language));
  const t = useMemo<T>(() => (k, v) => tr(lang, k, v), [lang]);
  const l = useMemo<L>(() => ({
    lang, tn: (k, n, v) => trn(lang, k, n, v), w: (g, n) => word(lang, g, n),
    date: (iso) => formatDate(lang, iso), dur: (ns) => formatDuration(lang, ns), secs: (sec) => formatSeconds(lang, sec),
  }), [lang]);
  const [project, setProject] = useState<string>();
  useEffect(() => { document.documentElement.lang = lang; localStorage.setItem('maim.lang', lang); }, [lang]);
  return (
    <LCtx.Provider value={l}><Box sx={{ p: 2 }}>
      <Stack direction="row" justifyContent="space-between" alignItems="center" sx={{ mb: 2 }}>
        <Box><Typography variant="h3" component="h1">{t('app.title')}</Typography><Typography variant="body2" color="text.secondary">{t('app.subtitle')}</Typography></Box>
        <Button onClick={() => setLang(lang === 'zh' ? 'en' : 'zh')} data-testid="lang">{t('lang.switch')}</Button>
      </Stack>
      {project ? <ProjectScreen key={project} t={t} project={project} back={() => setProject(undefined)} /> : <ProjectsScreen t={t} open={(p) => setProject(p.name)} />}
    </Box></LCtx.Provider>
  );
}
