// The typed client of docker-maim and of Desktop: every call the UI makes, each with the
// document it returns (the types in model.ts follow docs/json.md and docs/schema/*.json),
// and Desktop's toasts, navigation and external links. The screens call only this module.
import type { v1 } from '@docker/extension-api-client-types';
import { RunResult, canDetach, ddClient, follow, run, runOperation } from './cli';
import {
  BackupDoc, BackupsDoc, PendingOp, ProjectsDoc, PruneDoc, RestoreDoc, RollbackDoc, StatusDoc, UpgradeDoc, VerifyDoc, args,
} from './model';

export type { RunResult } from './cli';
export type Line = (line: string) => void;

/** The options of an upgrade the UI offers (the CLI's flags of the same names). */
export interface UpgradeOptions {
  /** --image SERVICE=REF per service (empty: what the compose files name). */
  images?: Record<string, string>;
  /** --reset-data SOURCE: sources emptied after the backup. */
  resetData?: string[];
  /** --compose-file FILE: a release's new compose files, adopted after the backup. */
  composeFiles?: string[];
  /** --migrate-db SERVICE: PostgreSQL services moved to the new major by dump and load. */
  migrateDb?: string[];
  /** --accept-breaking: the user typed the project's name. */
  acceptBreaking?: boolean;
}

const upgradeArgs = (project: string, dryRun: boolean, o: UpgradeOptions, detach = false) => args.upgrade(project, {
  dryRun, detach, images: o.images, acceptBreaking: o.acceptBreaking, resetData: o.resetData,
  extra: [...(o.composeFiles ?? []).filter((f) => f.trim()).flatMap((f) => ['--compose-file', f.trim()]),
    ...(o.migrateDb ?? []).flatMap((s) => ['--migrate-db', s])],
});

/** maim runs docker-maim: one method per command, each typed by the document it prints. */
export const maim = {
  projects: (): Promise<RunResult<ProjectsDoc>> => run<ProjectsDoc>(args.projects()),
  status: (p: string): Promise<RunResult<StatusDoc>> => run<StatusDoc>(args.status(p)),
  backups: (p: string): Promise<RunResult<BackupsDoc>> => run<BackupsDoc>(args.backups(p)),
  backup: (p: string, onLine?: Line): Promise<RunResult<BackupDoc>> => run<BackupDoc>(args.backup(p), onLine),
  verify: (p: string, id: string, onLine?: Line): Promise<RunResult<VerifyDoc>> => run<VerifyDoc>(args.verify(p, id), onLine),
  prune: (p: string, dryRun: boolean): Promise<RunResult<PruneDoc>> => run<PruneDoc>(args.prune(p, dryRun)),
  /** plan: `upgrade --dry-run` with the options (the plan, nothing changed). */
  plan: (p: string, o: UpgradeOptions): Promise<RunResult<UpgradeDoc>> => run<UpgradeDoc>(upgradeArgs(p, true, o)),
  /** upgrade runs detached where docker-maim can (see runOperation) and follows it. */
  upgrade: (p: string, o: UpgradeOptions, onLine?: Line): Promise<RunResult<UpgradeDoc>> =>
    runOperation<UpgradeDoc>(p, 'upgrade', upgradeArgs(p, false, o, canDetach()), onLine),
  restore: (p: string, id: string, onLine?: Line): Promise<RunResult<RestoreDoc>> =>
    runOperation<RestoreDoc>(p, 'restore', args.restore(p, id, canDetach()), onLine),
  rollback: (p: string, id: string | undefined, onLine?: Line): Promise<RunResult<RollbackDoc>> =>
    runOperation<RollbackDoc>(p, 'rollback', args.rollback(p, id, [], canDetach()), onLine),
  /** follow attaches to an operation that runs detached (started earlier, or from the CLI). */
  follow: <T extends UpgradeDoc | RestoreDoc | RollbackDoc>(p: string, op: PendingOp, onLine?: Line): Promise<RunResult<T>> => follow<T>(p, op, onLine),
};

const dd = (): v1.DockerDesktopClient => ddClient() as v1.DockerDesktopClient;
const quiet = (f: () => unknown) => { try { const r = f(); if (r instanceof Promise) r.catch(() => {}); } catch { /* outside Desktop */ } };

/** The engine's full ID of a container (Desktop's container view wants it), by name or ID;
 * undefined when the engine does not know it. */
export async function containerId(nameOrId: string): Promise<string | undefined> {
  try {
    const r = await dd().docker.cli.exec('inspect', ['--type', 'container', '--format', '{{.Id}}', nameOrId]);
    const id = r.stdout.trim();
    return /^[0-9a-f]{64}$/.test(id) ? id : undefined;
  } catch { return undefined; }
}

/** The engine's name of a project's volume: a compose volume (the plan's source names it as
 * the compose file does, "botdata") is "<project>_botdata" or what its name: says, found by
 * compose's labels; else the name itself (an external volume). */
export async function volumeName(project: string, source: string): Promise<string> {
  try {
    const r = await dd().docker.cli.exec('volume', ['ls', '-q', '--filter', `label=com.docker.compose.project=${project}`, '--filter', `label=com.docker.compose.volume=${source}`]);
    const n = r.stdout.trim().split('\n')[0];
    return n || source;
  } catch { return source; }
}

/** desktop is what the UI asks of Docker Desktop itself. Outside Desktop (a browser without
 * ddClient) every call is a no-op. */
export const desktop = {
  toast: {
    success: (m: string) => quiet(() => dd().desktopUI.toast.success(m)),
    warning: (m: string) => quiet(() => dd().desktopUI.toast.warning(m)),
    error: (m: string) => quiet(() => dd().desktopUI.toast.error(m)),
  },
  /** Desktop's Containers view, filtered to nothing: the list of every container. */
  viewContainers: () => quiet(() => dd().desktopUI.navigate.viewContainers()),
  /** A container's view in Desktop, by name or ID. */
  viewContainer: async (nameOrId: string) => {
    const id = await containerId(nameOrId);
    quiet(() => (id ? dd().desktopUI.navigate.viewContainer(id) : dd().desktopUI.navigate.viewContainers()));
  },
  /** A project's volume in Desktop's Volumes view. */
  viewVolume: async (project: string, source: string) => {
    const n = await volumeName(project, source);
    quiet(() => dd().desktopUI.navigate.viewVolume(n));
  },
  /** A web page in the user's browser: Desktop does not follow links out of an extension. */
  openExternal: (url: string) => quiet(() => dd().host.openExternal(url)),
  /** The file chooser of the host (paths on the user's computer); undefined when cancelled. */
  chooseFile: async (extensions: string[]): Promise<string | undefined> => {
    try {
      const r = await dd().desktopUI.dialog.showOpenDialog({ properties: ['openFile'], filters: [{ name: 'Compose', extensions }] });
      return r.canceled ? undefined : r.filePaths[0];
    } catch { return undefined; }
  },
};
