// The UI's whole knowledge of docker-maim: the JSON documents it prints with --format json
// (docs/json.md, docs/schema/*.json) and the --progress json lines on stderr (README:
// Progress events). Nothing here talks to Desktop: cli.ts does.

export interface CliError { code: number; message: string }
export interface Doc { schema_version: number; error?: CliError }

export interface ProjectSummary {
  name: string; working_dir?: string; config_files?: string[]; services: string[];
  containers: number; running: number; known: boolean;
}
export interface ProjectsDoc extends Doc { projects?: ProjectSummary[] }

export interface ImageChange {
  service: string; old_ref?: string; old_id?: string; old_version?: string;
  new_ref?: string; new_id?: string; new_version?: string; pin?: string;
}
export interface ServiceStatus {
  service: string; container: string; image: string; image_id: string;
  version?: string; digest?: string; state: string; health?: string;
}
export interface OpRecord {
  op: string; result: string; started?: string; finished?: string; backup_id?: string;
  downtime_ns?: number; error?: string; images?: ImageChange[];
}
export interface Interrupted {
  op: string; project: string; pid: number; started: string; updated: string; phase: string;
  backup_id?: string; resolve: string[];
}
export interface StatusDoc extends Doc {
  project?: string; services?: ServiceStatus[]; last_upgrade?: OpRecord; last_operation?: OpRecord;
  interrupted?: Interrupted; backups?: number;
  /** A detached operation that runs now (also one started from the CLI with --detach). */
  detached?: { id: string; verb: string; pid: number; started: string };
}
export interface BackupRow {
  id: string; project?: string; time?: string; reason?: string; size: number; bytes: number;
  sources: string[]; status: 'complete' | 'incomplete' | 'damaged' | 'unreadable'; problem?: string;
  tool_version?: string; dir: string;
}
export interface BackupsDoc extends Doc { project?: string; backups?: BackupRow[] }
export interface VerifyDoc extends Doc { id?: string; project?: string; intact?: boolean; archives?: number; bytes?: number; size?: number }
export interface RestoreDoc extends Doc { project?: string; backup_id?: string; safety_backup_id?: string; restored?: string[] | null; started?: string[]; warnings?: string[] }
export interface BackupDoc extends Doc { id?: string; project?: string; bytes?: number; size?: number; duration_ns?: number }
export interface ConfigReport { file: string; new?: string[] | null; removed?: string[] | null; changed?: string[] | null; kept_unknown?: string[] | null; version?: { key: string; from: string; to: string } }
export interface Plan {
  project: string; created: string; services: ImageChange[] | null;
  breaking: { service: string; reason: string; notes?: string }[] | null;
  sources: { name: string; kind: string; bytes: number; not_backed_up?: string }[] | null;
  config_merges: { file: string; service?: string; template: string; action: string; changed: boolean; report: ConfigReport; diff?: string }[] | null;
  reset_data?: string[]; estimated_backup_bytes: number; free_bytes: number; expected_downtime_ns: number;
  nothing_to_do: boolean; warnings?: string[];
  /** The steps the upgrade runs, in order, by the names progress lines carry (docs/json.md). */
  phases?: { name: string; description: string; skipped?: boolean; reason?: string }[];
  /** One per service whose new image runs a database, and what the upgrade does to its data. */
  databases?: { service: string; engine: string; data_version?: string; new_version: string; source?: string; decision: string; reason: string; recipe?: string[] }[];
}
export interface RollbackDoc extends Doc {
  project?: string; backup_id?: string; safety_backup_id?: string; resolved?: string;
  images?: ImageChange[]; warnings?: string[];
}
export type Outcome = 'upgraded' | 'nothing-to-do' | 'dry-run' | 'refused' | 'failed' | 'rolled-back' | 'rollback-failed';
export interface UpgradeDoc extends Doc {
  plan?: Plan | null; outcome?: Outcome; backup_id?: string; downtime_ns?: number;
  recovery?: string[]; rollback?: { backup_id?: string; safety_backup_id?: string; images?: ImageChange[] };
}
export interface PruneDoc extends Doc {
  project?: string; dry_run?: boolean; freed_bytes?: number;
  removed?: { id: string; status: string; reason?: string; size: number; pins_removed: number }[] | null;
  kept?: { id: string; status: string; reason?: string; rule: string; why: string }[] | null;
}

/** parseDoc reads the one JSON document a command printed on stdout. Output that is not
 * one (a crash, a binary that is not docker-maim) becomes an error document, code -1. */
export function parseDoc<T extends Doc>(stdout: string): T {
  const text = stdout.trim();
  try {
    const v = JSON.parse(text);
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      if (typeof v.schema_version === 'number' && v.schema_version > 1) {
        // a newer CLI: members we know keep their meaning only within schema 1
        return { ...v, error: v.error ?? { code: -2, message: `docker-maim prints JSON schema ${v.schema_version}; this extension reads 1` } };
      }
      return v as T;
    }
  } catch { /* below */ }
  return { schema_version: 1, error: { code: -1, message: text ? `unreadable output: ${text.slice(0, 300)}` : 'docker-maim printed nothing' } } as T;
}

/** A --progress json line (docs/json.md#progress, docs/schema/progress.json): a task's
 * progress, or an event. op is the operation whose step it is (upgrade, restore, rollback,
 * backup), phase the step by the name the plan lists (backup-hot, stop, backup, merge,
 * recreate, gate, ...). */
export interface ProgressLine {
  schema_version?: number; time: string; op?: string; phase?: string; task?: string; source?: string; bytes?: number; total?: number;
  rate?: number; eta_seconds?: number; status?: 'running' | 'done' | 'error'; error?: string; event?: string;
}
export function parseProgressLine(line: string): ProgressLine | null {
  const t = line.trim();
  if (!t.startsWith('{')) return null;
  try {
    const v = JSON.parse(t);
    return v && typeof v === 'object' && typeof v.time === 'string' ? (v as ProgressLine) : null;
  } catch { return null; }
}

export interface TaskState { task: string; phase: string; bytes: number; total: number; rate: number; eta?: number; status: string; error?: string }
export interface ProgressState { op?: string; phases: string[]; tasks: TaskState[]; events: string[]; other: string[] }
export const emptyProgress = (): ProgressState => ({ phases: [], tasks: [], events: [], other: [] });

/** stepLabel names a line's step as shown: the plan's step name, prefixed by its operation
 * when that is not the operation the stream began with (an upgrade's automatic rollback:
 * "rollback: restore", "rollback: gate"). */
export function stepLabel(first: string | undefined, p: ProgressLine): string {
  const phase = p.phase ?? '';
  return phase && p.op && first && p.op !== first ? `${p.op}: ${phase}` : phase;
}

/** stepWords splits a step as stepLabel shows it into the names to translate: a step
 * ("gate"), or an operation and its step ("rollback: restore"). */
export function stepWords(label: string): [('op' | 'phase'), string][] {
  const i = label.indexOf(': ');
  return i < 0 ? [['phase', label]] : [['op', label.slice(0, i)], ['phase', label.slice(i + 2)]];
}

/** applyLine folds one stderr line into the progress shown: steps in the order seen, a task
 * per (step, task), events; a stderr line that is not JSON is kept as text (the error line). */
export function applyLine(s: ProgressState, line: string): ProgressState {
  const p = parseProgressLine(line);
  if (!p) {
    return line.trim() ? { ...s, other: [...s.other, line.trim()] } : s;
  }
  const op = s.op ?? p.op;
  s = op === s.op ? s : { ...s, op };
  const phase = stepLabel(op, p);
  const phases = phase && !s.phases.includes(phase) ? [...s.phases, phase] : s.phases;
  if (p.event !== undefined) return { ...s, phases, events: [...s.events, p.event] };
  if (!p.task) return { ...s, phases };
  const key = (t: TaskState) => t.phase === phase && t.task === p.task;
  const next: TaskState = {
    task: p.task, phase, bytes: p.bytes ?? 0, total: p.total ?? 0, rate: p.rate ?? 0,
    eta: p.eta_seconds, status: p.status ?? 'running', error: p.error,
  };
  const tasks = s.tasks.some(key) ? s.tasks.map((t) => (key(t) ? next : t)) : [...s.tasks, next];
  return { ...s, phases, tasks };
}

/** percent of a task, or undefined when its total is unknown. */
export function percent(t: TaskState): number | undefined {
  if (t.status === 'done') return 100;
  if (!t.total) return undefined;
  return Math.min(100, Math.floor((t.bytes * 100) / t.total));
}

/** humanBytes shows a size in decimal units, as the CLI (docker's go-units HumanSize) and
 * Docker Desktop do: "1.5 kB", "2.9 MB". */
export function humanBytes(n: number | undefined): string {
  if (n === undefined || n < 0) return '?';
  const u = ['B', 'kB', 'MB', 'GB', 'TB', 'PB'];
  let i = 0; let v = n;
  while (v >= 1000 && i < u.length - 1) { v /= 1000; i++; }
  return `${i === 0 ? v : v.toFixed(1)} ${u[i]}`;
}

export function humanDuration(ns: number | undefined): string {
  if (ns === undefined) return '?';
  const s = ns / 1e9;
  if (s < 1) return `${Math.round(ns / 1e6)} ms`;
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  return `${m} min ${Math.round(s - m * 60)} s`;
}

export function humanSeconds(sec: number | undefined): string {
  return sec === undefined ? '?' : humanDuration(sec * 1e9);
}

/** The words a non-expert reads for a failure: a message key by the exit code (README: Exit
 * codes), the CLI's own line kept as the details. */
export function errorKey(e: CliError): string {
  switch (e.code) {
    case -1: return 'err.output';
    case -2: return 'err.schema';
    case 3: return 'err.backup';
    case 4: return 'err.locked';
    case 5: return 'err.engine';
    case 6: return 'err.project';
    case 10: return 'err.rolledBack';
    case 11: return 'err.rollbackFailed';
    case 12: return /breaking/i.test(e.message) ? 'err.breaking' : 'err.refused';
    case 130: return 'err.cancelled';
    case 125: return 'err.usage';
    default: return /interrupted/i.test(e.message) ? 'err.interrupted' : 'err.generic';
  }
}

/** Whether an upgrade plan needs the typed confirmation: a breaking change or --reset-data. */
export function needsTypedConfirm(plan: Plan | null | undefined): boolean {
  return !!plan && ((plan.breaking?.length ?? 0) > 0 || (plan.reset_data?.length ?? 0) > 0);
}

/** The image changes of a plan that change something. */
export function changes(plan: Plan | null | undefined): ImageChange[] {
  return (plan?.services ?? []).filter((c) => (c.new_ref && c.new_ref !== c.old_ref) || (c.new_id && c.new_id !== c.old_id));
}

/** What `--detach --format json` prints while the operation goes on in the background
 * (running); when it ended before it held the project, the command prints its own document. */
export interface DetachDoc extends Doc { id?: string; project?: string; pid?: number; log?: string; running?: boolean }

/** isDetached tells a detached operation that runs (follow it with args.attach) from a
 * finished command's document. */
export function isDetached(d: Doc): d is DetachDoc & { id: string } {
  const v = d as DetachDoc;
  return !d.error && v.running === true && typeof v.id === 'string' && v.id !== '';
}

/** The long operations the UI runs detached, and which tab shows each. */
export type OpKind = 'upgrade' | 'rollback' | 'restore';
export const opTab: Record<OpKind, number> = { restore: 1, upgrade: 2, rollback: 3 };

/** A detached operation the UI started and has not seen end (kept in localStorage, so that
 * the UI re-attaches when it opens again after the user left the tab). */
export interface PendingOp { id: string; kind: OpKind }
type KV = Pick<Storage, 'getItem' | 'setItem' | 'removeItem'>;
const opKey = (project: string) => `maim.op.${project}`;
export const pendingOps = {
  get(s: KV, project: string): PendingOp | undefined {
    try {
      const v = JSON.parse(s.getItem(opKey(project)) ?? 'null');
      return v && typeof v.id === 'string' && v.kind in opTab ? v as PendingOp : undefined;
    } catch { return undefined; }
  },
  set(s: KV, project: string, op: PendingOp) { s.setItem(opKey(project), JSON.stringify(op)); },
  clear(s: KV, project: string) { s.removeItem(opKey(project)); },
};

/** runningOp is the operation to follow when a project opens: the one this UI started and
 * did not see end, else the detached one status reports running (e.g. started from the CLI). */
export function runningOp(pending: PendingOp | undefined, st: StatusDoc | undefined): PendingOp | undefined {
  if (pending) return pending;
  const d = st?.detached;
  return d && d.verb in opTab ? { id: d.id, kind: d.verb as OpKind } : undefined;
}

/** followEnded tells whether `attach` saw the operation end (its document, or an unknown
 * operation: exit 6), rather than being stopped itself (the tab left: killed, -1, 130, 143). */
export function followEnded(exitCode: number, d: Doc): boolean {
  if (exitCode === 6) return true;
  return ![-1, 130, 143].includes(exitCode) && !(d.error && d.error.code < 0);
}

/** The arguments of every call the UI makes: always JSON, always the project by name. */
export const args = {
  projects: () => ['projects', '--format', 'json'],
  status: (p: string) => ['-p', p, 'status', '--format', 'json'],
  backups: (p: string) => ['-p', p, 'backups', '--format', 'json'],
  backup: (p: string) => ['-p', p, 'backup', '--format', 'json', '--progress', 'json'],
  verify: (p: string, id: string) => ['-p', p, 'verify', id, '--format', 'json', '--progress', 'json'],
  restore: (p: string, id: string, detach = false) => ['-p', p, 'restore', id, ...(detach ? ['--detach'] : []), '--format', 'json', '--progress', 'json'],
  prune: (p: string, dryRun: boolean) => ['-p', p, 'prune', ...(dryRun ? ['--dry-run'] : []), '--format', 'json'],
  upgrade: (p: string, o: { dryRun: boolean; images?: Record<string, string>; acceptBreaking?: boolean; resetData?: string[]; extra?: string[]; detach?: boolean }) => [
    '-p', p, 'upgrade', ...(o.dryRun ? ['--dry-run'] : []), ...(o.detach && !o.dryRun ? ['--detach'] : []),
    ...Object.entries(o.images ?? {}).filter(([, r]) => r.trim()).flatMap(([s, r]) => ['--image', `${s}=${r.trim()}`]),
    ...(o.acceptBreaking ? ['--accept-breaking'] : []),
    ...(o.resetData ?? []).flatMap((s) => ['--reset-data', s]),
    ...(o.extra ?? []),
    '--format', 'json', ...(o.dryRun ? [] : ['--progress', 'json']),
  ],
  rollback: (p: string, id?: string, extra: string[] = [], detach = false) => ['-p', p, 'rollback', ...(id ? [id] : []), ...extra, ...(detach ? ['--detach'] : []), '--format', 'json', '--progress', 'json'],
  /** Follow a detached operation: its progress lines again from the start, then its document. */
  attach: (p: string, id: string) => ['-p', p, 'attach', id],
};

/** The last log lines of a failing service the CLI reported inside an error message. */
export function logLines(message: string | undefined): string[] {
  if (!message) return [];
  const i = message.search(/last log lines|logs?:/i);
  if (i < 0) return [];
  return message.slice(i).split(/\n|; /).slice(1).map((l) => l.trim()).filter(Boolean);
}

/** The host binary's name on Desktop's platform (ddClient.host.platform). */
export const binaryName = (platform: string | undefined) => (platform === 'win32' ? 'docker-maim.exe' : 'docker-maim');
