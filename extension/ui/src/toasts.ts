// Which Desktop toast an upgrade's end shows: success when it upgraded, a warning when it
// rolled itself back (the project runs as before), an error when it failed or could not be
// rolled back; nothing for a plan (dry run, nothing to do).
import type { UpgradeDoc } from './model';

export interface ToastNote { kind: 'success' | 'warning' | 'error'; message: string }
type T = (k: string, v?: Record<string, string | number>) => string;

export function outcomeToast(t: T, project: string, d: UpgradeDoc): ToastNote | undefined {
  switch (d.outcome) {
    case 'upgraded': return { kind: 'success', message: t('toast.upgraded', { project }) };
    case 'rolled-back': return { kind: 'warning', message: t('toast.rolledBack', { project }) };
    case 'rollback-failed': return { kind: 'error', message: t('toast.rollbackFailed', { project }) };
    case 'failed': return { kind: 'error', message: t('toast.failed', { project }) };
    case 'refused': return { kind: 'warning', message: t('toast.refused', { project }) };
    case 'nothing-to-do': case 'dry-run': return undefined;
    default: return d.error ? { kind: 'error', message: t('toast.failed', { project }) } : undefined;
  }
}
