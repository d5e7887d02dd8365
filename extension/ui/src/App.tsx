import { useCallback, useEffect, useMemo, useState } from 'react';
import {
  Alert, AlertTitle, Box, Button, Chip, Collapse, Dialog, DialogActions, DialogContent, DialogTitle,
  LinearProgress, MenuItem, Paper, Stack, Tab, Table, TableBody, TableCell, TableHead, TableRow, Tabs,
  TextField, Typography,
} from '@mui/material';
import { canDetach, follow, run, runOperation } from './cli';
import { Lang, pickLang, t as tr } from './i18n';
import {
  BackupsDoc, BackupDoc, CliError, PruneDoc, ProjectsDoc, ProjectSummary, RestoreDoc, RollbackDoc, StatusDoc,
  UpgradeDoc, VerifyDoc, ProgressState, applyLine, args, changes, emptyProgress, errorKey, humanBytes,
  humanDuration, humanSeconds, logLines, needsTypedConfirm, percent, PendingOp, opTab, pendingOps, runningOp,
} from './model';

type T = (k: string, v?: Record<string, string | number>) => string;

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
  return (
    <Box data-testid="progress" sx={{ my: 2 }}>
      <Stack direction="row" spacing={1} sx={{ mb: 1, flexWrap: 'wrap' }}>
        {p.phases.map((ph, i) => <Chip key={ph} size="small" label={ph} color={i === p.phases.length - 1 ? 'primary' : 'default'} data-testid="phase" />)}
      </Stack>
      {p.tasks.map((k) => {
        const pct = percent(k);
        return (
          <Box key={k.phase + k.task} sx={{ mb: 1 }} data-testid="task">
            <Typography variant="body2">{k.phase} · {k.task}: {humanBytes(k.bytes)} / {k.total ? humanBytes(k.total) : '?'}
              {' '}({t('upgrade.eta', { pct: pct === undefined ? '?' : `${pct}%`, rate: humanBytes(k.rate), eta: humanSeconds(k.eta) })})</Typography>
            <LinearProgress variant={pct === undefined ? 'indeterminate' : 'determinate'} value={pct ?? 0} color={k.status === 'error' ? 'error' : 'primary'} />
          </Box>
        );
      })}
      {p.events.slice(-4).map((e, i) => <Typography key={i} variant="caption" display="block" color="text.secondary">{e.split('\n')[0]}</Typography>)}
    </Box>
  );
}

function ProjectsScreen({ t, open }: { t: T; open: (p: ProjectSummary) => void }) {
  const [doc, setDoc] = useState<ProjectsDoc>();
  const [statuses, setStatuses] = useState<Record<string, StatusDoc>>({});
  const load = useCallback(async () => {
    setDoc(undefined);
    const r = await run<ProjectsDoc>(args.projects());
    setDoc(r.doc);
    for (const p of r.doc.projects ?? []) {
      run<StatusDoc>(args.status(p.name)).then((s) => setStatuses((m) => ({ ...m, [p.name]: s.doc })));
    }
  }, []);
  useEffect(() => { load(); }, [load]);
  return (
    <Box data-testid="projects-screen">
      <Stack direction="row" justifyContent="space-between" alignItems="center">
        <Typography variant="h3">{t('projects.title')}</Typography>
        <Button onClick={load}>{t('common.refresh')}</Button>
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
                    {st?.detached && <Chip size="small" color="info" label={t('detached.running', { verb: st.detached.verb })} sx={{ ml: 1 }} data-testid="detached" />}</TableCell>
                  <TableCell>{(st?.services ?? []).map((s) => <div key={s.container}>{s.service}: {s.image}{s.version ? ` (${s.version})` : ''}</div>)}
                    {!st && p.services.join(', ')}</TableCell>
                  <TableCell>{t('projects.running', { n: p.running, m: p.containers })}
                    {(st?.services ?? []).map((s) => s.health ? <Chip key={s.container} size="small" label={`${s.service}: ${s.health}`} sx={{ ml: 1 }} /> : null)}</TableCell>
                  <TableCell>{st?.last_upgrade ? `${st.last_upgrade.result} ${new Date(st.last_upgrade.finished ?? st.last_upgrade.started ?? '').toLocaleString()}` : t('projects.never')}</TableCell>
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
  if (!st) return <LinearProgress />;
  if (st.error) return <ErrorBox t={t} error={st.error} />;
  const u = st.last_upgrade;
  return (
    <Box data-testid="overview">
      <Table size="small">
        <TableHead><TableRow>{['status.service', 'status.image', 'status.version', 'status.state', 'status.health'].map((k) => <TableCell key={k}>{t(k)}</TableCell>)}</TableRow></TableHead>
        <TableBody>{(st.services ?? []).map((s) => (
          <TableRow key={s.container} data-testid={`service-${s.service}`}><TableCell>{s.service}</TableCell><TableCell>{s.image}</TableCell><TableCell>{s.version ?? '-'}</TableCell><TableCell>{s.state}</TableCell><TableCell>{s.health ?? '-'}</TableCell></TableRow>
        ))}</TableBody>
      </Table>
      <Typography sx={{ mt: 2 }}>{u ? t('status.lastUpgrade', { result: u.result, time: new Date(u.finished ?? u.started ?? '').toLocaleString(), downtime: humanDuration(u.downtime_ns) }) : t('status.noUpgrade')}</Typography>
    </Box>
  );
}

function Backups({ t, project, refresh, reattach, reattached }: { t: T; project: string; refresh: () => void; reattach?: PendingOp; reattached?: () => void }) {
  const [doc, setDoc] = useState<BackupsDoc>();
  const [msg, setMsg] = useState<string>();
  const [err, setErr] = useState<CliError>();
  const [busy, setBusy] = useState(false);
  const [prog, setProg] = useState<ProgressState>(emptyProgress());
  const [ask, setAsk] = useState<{ title: string; body: string; ok: () => void }>();
  const load = useCallback(async () => setDoc((await run<BackupsDoc>(args.backups(project))).doc), [project]);
  useEffect(() => { load(); }, [load]);
  const act = async <D extends { error?: CliError }>(a: string[] | (() => ReturnType<typeof run<D & { schema_version: number }>>), done: (d: D) => string) => {
    setBusy(true); setMsg(undefined); setErr(undefined); setProg(emptyProgress());
    const onLine = (l: string) => setProg((p) => applyLine(p, l));
    const r = Array.isArray(a) ? await run<D & { schema_version: number }>(a, onLine) : await a();
    setBusy(false);
    if (r.doc.error) setErr(r.doc.error); else setMsg(done(r.doc));
    load(); refresh();
  };
  const restored = (id: string) => (d: RestoreDoc) => t('backups.restored', { id: d.backup_id ?? id, safety: d.safety_backup_id ?? '-' });
  const restore = (id: string) => act<RestoreDoc>(() => runOperation<RestoreDoc>(project, 'restore', args.restore(project, id, canDetach()), (l) => setProg((p) => applyLine(p, l))), restored(id));
  useEffect(() => {
    if (reattach?.kind !== 'restore') return;
    reattached?.();
    act<RestoreDoc>(() => follow<RestoreDoc>(project, reattach, (l) => setProg((p) => applyLine(p, l))), restored(''));
  }, [reattach]); // eslint-disable-line react-hooks/exhaustive-deps
  const prune = async () => {
    const r = await run<PruneDoc>(args.prune(project, true));
    if (r.doc.error) { setErr(r.doc.error); return; }
    const ids = (r.doc.removed ?? []).map((x) => x.id);
    if (!ids.length) { setMsg(t('backups.pruneNothing')); return; }
    setAsk({ title: t('backups.prune'), body: t('backups.pruneConfirm', { ids: ids.join(', ') }), ok: () => act<PruneDoc>(args.prune(project, false), (d) => t('backups.pruned', { n: (d.removed ?? []).length })) });
  };
  return (
    <Box data-testid="backups-screen">
      <Stack direction="row" spacing={1} sx={{ mb: 1 }}>
        <Button variant="contained" disabled={busy} data-testid="backup-now" onClick={() => act<BackupDoc>(args.backup(project), (d) => t('backups.backedUp', { id: d.id ?? '', bytes: humanBytes(d.bytes) }))}>{t('backups.backupNow')}</Button>
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
              <TableCell title={b.id}>{b.time ? new Date(b.time).toLocaleString() : b.id}</TableCell>
              <TableCell>{b.reason ?? '-'}</TableCell>
              <TableCell>{humanBytes(b.size)}</TableCell>
              <TableCell><Chip size="small" label={b.status} color={b.status === 'complete' ? 'success' : 'warning'} title={b.problem} /></TableCell>
              <TableCell>{b.sources.join(', ')}</TableCell>
              <TableCell>
                <Button size="small" disabled={busy || b.status !== 'complete'} onClick={() => act<VerifyDoc>(args.verify(project, b.id), (d) => t('backups.verified', { id: b.id, archives: d.archives ?? 0, bytes: humanBytes(d.bytes) }))}>{t('backups.verify')}</Button>
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

function Upgrade({ t, project, st, refresh, reattach, reattached }: { t: T; project: string; st?: StatusDoc; refresh: () => void; reattach?: PendingOp; reattached?: () => void }) {
  const [images, setImages] = useState<Record<string, string>>({});
  const [plan, setPlan] = useState<UpgradeDoc>();
  const [planning, setPlanning] = useState(false);
  const [confirm, setConfirm] = useState(false);
  const [running, setRunning] = useState(false);
  const [prog, setProg] = useState<ProgressState>(emptyProgress());
  const [result, setResult] = useState<UpgradeDoc>();
  const services = (st?.services ?? []).map((s) => s.service);
  const doPlan = async () => {
    setPlanning(true); setPlan(undefined); setResult(undefined);
    setPlan((await run<UpgradeDoc>(args.upgrade(project, { dryRun: true, images }))).doc);
    setPlanning(false);
  };
  const breaking = needsTypedConfirm(plan?.plan);
  const onLine = (l: string) => setProg((p) => applyLine(p, l));
  const go = async () => {
    setConfirm(false); setRunning(true); setProg(emptyProgress());
    const r = await runOperation<UpgradeDoc>(project, 'upgrade', args.upgrade(project, { dryRun: false, images, acceptBreaking: breaking, detach: canDetach() }), onLine);
    setRunning(false); setResult(r.doc); refresh();
  };
  // The UI opened while an upgrade it started runs (or ended unseen): follow it again.
  useEffect(() => {
    if (reattach?.kind !== 'upgrade') return;
    reattached?.();
    setRunning(true); setProg(emptyProgress());
    follow<UpgradeDoc>(project, reattach, onLine).then((r) => { setRunning(false); setResult(r.doc); refresh(); });
  }, [reattach]); // eslint-disable-line react-hooks/exhaustive-deps
  const logs = prog.events.flatMap((e) => /last log lines/i.test(e) ? logLines(e) : []);
  const p = plan?.plan;
  return (
    <Box data-testid="upgrade-screen">
      {!result && !running && <>
        <Typography variant="body2" sx={{ mb: 1 }}>{t('upgrade.targetHelp')}</Typography>
        {services.map((s) => <TextField key={s} size="small" fullWidth sx={{ mb: 1 }} label={t('upgrade.newImage', { svc: s })} value={images[s] ?? ''}
          onChange={(e) => setImages({ ...images, [s]: e.target.value })} inputProps={{ 'data-testid': `image-${s}` }} />)}
        <Button variant="outlined" onClick={doPlan} disabled={planning} data-testid="plan">{t('upgrade.plan')}</Button>
        {planning && <LinearProgress sx={{ mt: 1 }} />}
      </>}
      {plan?.error && !result && <ErrorBox t={t} error={plan.error} />}
      {p && !result && !running && (
        <Paper variant="outlined" sx={{ p: 2, mt: 2 }} data-testid="plan-view">
          <Typography variant="h4">{t('upgrade.planTitle')}</Typography>
          {p.nothing_to_do ? <Typography data-testid="nothing">{t('upgrade.nothing')}</Typography> : <>
            <Typography variant="h6" sx={{ mt: 1 }}>{t('upgrade.images')}</Typography>
            {changes(p).map((c) => <Typography key={c.service} data-testid="plan-change">{c.service}: {c.old_ref} ({c.old_version ?? '?'}) → {c.new_ref} ({c.new_version ?? '?'})</Typography>)}
            {(p.breaking ?? []).length > 0 && <Alert severity="warning" sx={{ mt: 1 }} data-testid="breaking"><AlertTitle>{t('upgrade.breaking')}</AlertTitle>
              {p.breaking!.map((b) => <div key={b.service + b.reason}>{b.service}: {b.reason} {b.notes && <a href={b.notes} target="_blank" rel="noreferrer">{t('upgrade.notes')}</a>}</div>)}</Alert>}
            <Typography variant="h6" sx={{ mt: 1 }}>{t('upgrade.data', { bytes: humanBytes(p.estimated_backup_bytes), free: humanBytes(p.free_bytes) })}</Typography>
            {(p.sources ?? []).map((s) => <Typography key={s.name} variant="body2">{s.name} ({s.kind}): {humanBytes(s.bytes)}{s.not_backed_up ? ` — ${s.not_backed_up}` : ''}</Typography>)}
            {(p.config_merges ?? []).length > 0 && <><Typography variant="h6" sx={{ mt: 1 }}>{t('upgrade.configs')}</Typography>
              {p.config_merges!.map((m) => <Box key={m.file}><Typography variant="body2">{m.file}: {m.action}{m.report.version ? ` ${m.report.version.from} → ${m.report.version.to}` : ''}</Typography>
                {m.diff && <Box component="pre" sx={{ fontSize: 12, bgcolor: 'action.hover', p: 1, overflow: 'auto', maxHeight: 200 }}>{m.diff}</Box>}</Box>)}</>}
            <Typography sx={{ mt: 1 }}>{t('upgrade.downtime', { d: humanDuration(p.expected_downtime_ns) })}</Typography>
            {(p.warnings ?? []).map((w) => <Alert key={w} severity="info">{w}</Alert>)}
            <Button variant="contained" sx={{ mt: 2 }} onClick={() => setConfirm(true)} data-testid="upgrade-go">{t('upgrade.confirm')}</Button>
          </>}
        </Paper>
      )}
      {running && <Box data-testid="upgrade-running"><Typography variant="h4">{t('upgrade.running')}</Typography><LinearProgress /><Progress t={t} p={prog} /></Box>}
      {result && (
        <Box data-testid="upgrade-result" data-outcome={result.outcome}>
          {result.outcome === 'upgraded' && <Alert severity="success">{t('upgrade.upgraded', { d: humanDuration(result.downtime_ns) })}<br />{t('upgrade.backupId', { id: result.backup_id ?? '-' })}</Alert>}
          {result.outcome === 'rolled-back' && <Alert severity="warning" data-testid="rolled-back">{t('upgrade.rolledBack')}<br />{t('upgrade.backupId', { id: result.backup_id ?? '-' })}</Alert>}
          {result.outcome === 'rollback-failed' && <Alert severity="error">{t('upgrade.rollbackFailed')}<Box component="pre">{(result.recovery ?? []).join('\n')}</Box></Alert>}
          {result.outcome === 'failed' && <Alert severity="error">{t('upgrade.failed')}</Alert>}
          {result.outcome === 'refused' && <Alert severity="info">{t('upgrade.refused')}</Alert>}
          {logs.length > 0 && <Paper variant="outlined" sx={{ p: 1, mt: 1 }} data-testid="failing-logs"><Typography variant="h6">{t('upgrade.logs')}</Typography><Box component="pre" sx={{ fontSize: 12 }}>{logs.join('\n')}</Box></Paper>}
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
  useEffect(() => { run<BackupsDoc>(args.backups(project)).then((r) => setBackups(r.doc)); }, [project]);
  const onLine = (l: string) => setProg((p) => applyLine(p, l));
  const go = async () => {
    setAsk(false); setRunning(true); setRes(undefined); setProg(emptyProgress());
    const r = await runOperation<RollbackDoc>(project, 'rollback', args.rollback(project, pick || undefined, [], canDetach()), onLine);
    setRunning(false); setRes(r.doc); refresh();
  };
  useEffect(() => {
    if (reattach?.kind !== 'rollback') return;
    reattached?.();
    setRunning(true); setRes(undefined); setProg(emptyProgress());
    follow<RollbackDoc>(project, reattach, onLine).then((r) => { setRunning(false); setRes(r.doc); refresh(); });
  }, [reattach]); // eslint-disable-line react-hooks/exhaustive-deps
  useEffect(() => { if (resolveNow) go(); }, [resolveNow]); // eslint-disable-line react-hooks/exhaustive-deps
  return (
    <Box data-testid="rollback-screen">
      <Typography variant="h4">{t('rollback.title')}</Typography>
      <TextField select size="small" sx={{ minWidth: 360, my: 1 }} label={t('rollback.pick')} value={pick} onChange={(e) => setPick(e.target.value)} SelectProps={{ SelectDisplayProps: { 'data-testid': 'rollback-pick' } as object }}>
        <MenuItem value="">{t('rollback.last')}</MenuItem>
        {(backups?.backups ?? []).filter((b) => b.status === 'complete').map((b) => <MenuItem key={b.id} value={b.id}>{b.id} · {b.reason ?? ''} · {humanBytes(b.size)}</MenuItem>)}
      </TextField>
      <Box><Button variant="contained" color="warning" disabled={running} onClick={() => setAsk(true)} data-testid="rollback-go">{t('rollback.go')}</Button></Box>
      {running && <><Typography>{t('rollback.running')}</Typography><LinearProgress /></>}
      {(running || res) && <Progress t={t} p={prog} />}
      {res && !res.error && <Alert severity="success" data-testid="rollback-done">{res.resolved ? t('rollback.resolved', { op: res.resolved }) + ' ' : ''}{t('rollback.done', { id: res.backup_id || '-' })}</Alert>}
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
  const refresh = useCallback(() => { run<StatusDoc>(args.status(project)).then((r) => setSt(r.doc)); }, [project]);
  useEffect(() => { refresh(); }, [refresh]);
  const inter = st?.interrupted;
  return (
    <Box data-testid="project-screen">
      <Button onClick={back} data-testid="back">← {t('common.back')}</Button>
      <Typography variant="h3" sx={{ my: 1 }}>{project}</Typography>
      {inter && (
        <Alert severity="warning" data-testid="interrupted" action={<Button color="inherit" onClick={() => { setTab(3); setResolve(true); }} data-testid="resolve">{t('interrupted.resolve')}</Button>}>
          <AlertTitle>{t('interrupted.title')}</AlertTitle>
          {t('interrupted.body', { op: inter.op, phase: inter.phase, time: new Date(inter.updated).toLocaleString() })}
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
  const [project, setProject] = useState<string>();
  useEffect(() => { document.documentElement.lang = lang; localStorage.setItem('maim.lang', lang); }, [lang]);
  return (
    <Box sx={{ p: 2 }}>
      <Stack direction="row" justifyContent="space-between" alignItems="center" sx={{ mb: 2 }}>
        <Box><Typography variant="h2">{t('app.title')}</Typography><Typography variant="body2" color="text.secondary">{t('app.subtitle')}</Typography></Box>
        <Button onClick={() => setLang(lang === 'zh' ? 'en' : 'zh')} data-testid="lang">{t('lang.switch')}</Button>
      </Stack>
      {project ? <ProjectScreen key={project} t={t} project={project} back={() => setProject(undefined)} /> : <ProjectsScreen t={t} open={(p) => setProject(p.name)} />}
    </Box>
  );
}
