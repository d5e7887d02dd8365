// Chinese and English, chosen from the browser's language and switchable.
export type Lang = 'zh' | 'en';
export const pickLang = (navLang: string | undefined): Lang => (navLang ?? '').toLowerCase().startsWith('zh') ? 'zh' : 'en';

const en = {
  'app.title': 'Compose upgrades', 'app.subtitle': 'Back up, upgrade and roll back Compose projects safely (docker-maim)',
  'lang.switch': '中文', 'common.refresh': 'Refresh', 'common.back': 'All projects', 'common.cancel': 'Cancel',
  'common.details': 'Details', 'common.loading': 'Loading…', 'common.close': 'Close',
  'projects.title': 'Projects on this engine', 'projects.none': 'No Compose project has containers on this engine.',
  'projects.name': 'Project', 'projects.services': 'Services', 'projects.images': 'Images (version)', 'projects.state': 'State',
  'projects.lastUpgrade': 'Last upgrade', 'projects.open': 'Open', 'projects.never': 'never',
  'projects.running': '{n} of {m} running',
  'tab.overview': 'Overview', 'tab.backups': 'Backups', 'tab.upgrade': 'Upgrade', 'tab.rollback': 'Roll back',
  'interrupted.title': 'An operation was interrupted', 'interrupted.body': 'The {op} of this project stopped in the "{phase}" step ({time}). The project may be half-changed until this is resolved.',
  'interrupted.resolve': 'Resolve it now (roll back)',
  'detached.running': '{verb} running',
  'status.service': 'Service', 'status.image': 'Image', 'status.version': 'Version', 'status.state': 'State', 'status.health': 'Health',
  'status.lastUpgrade': 'Last upgrade: {result} on {time}, downtime {downtime}', 'status.noUpgrade': 'No upgrade recorded yet.',
  'backups.title': 'Backups', 'backups.none': 'No backups yet.', 'backups.time': 'Time', 'backups.reason': 'Reason', 'backups.size': 'Size',
  'backups.status': 'Status', 'backups.versions': 'Sources', 'backups.verify': 'Verify', 'backups.restore': 'Restore', 'backups.prune': 'Prune old backups',
  'backups.backupNow': 'Back up now', 'backups.verified': 'Backup {id} is intact: {archives}, {bytes}.',
  'backups.restoreConfirm': 'Restore backup {id}? The project\'s data, config and compose files become what they were then. A safety backup of the current state is made first.',
  'backups.restored': 'Restored backup {id}. The state before is in backup {safety}.', 'backups.backedUp': 'Backup {id} made: {bytes}.',
  'backups.pruneConfirm': 'These backups would be removed: {ids}. Go ahead?', 'backups.pruneNothing': 'Nothing to prune: every backup is kept by a rule.',
  'backups.pruned.one': 'Removed {n} backup.', 'backups.pruned.other': 'Removed {n} backups.',
  'backups.count.one': '{n} backup kept', 'backups.count.other': '{n} backups kept',
  'archives.one': '{n} archive', 'archives.other': '{n} archives',
  'upgrade.title': 'Upgrade', 'upgrade.targetHelp': 'Leave empty to upgrade to what the compose files name; or type a new image for a service.',
  'upgrade.newImage': 'New image for {svc}', 'upgrade.plan': 'Check what would change (dry run)', 'upgrade.planTitle': 'The plan',
  'upgrade.nothing': 'Nothing to do: the images are already the newest the compose files name.',
  'upgrade.images': 'Images', 'upgrade.data': 'Data to back up ({bytes}, {free} free)', 'upgrade.downtime': 'Expected downtime: about {d}',
  'upgrade.configs': 'Config changes (secrets hidden)', 'upgrade.breaking': 'Breaking changes', 'upgrade.notes': 'release notes',
  'upgrade.confirm': 'Upgrade now', 'upgrade.confirmTitle': 'Upgrade {project}?',
  'upgrade.confirmBody': 'The services stop, everything is backed up, then they start on the new images. If they do not come up healthy, docker-maim rolls back by itself.',
  'upgrade.typed': 'This upgrade is breaking: the old version may not read the data afterwards. Type the project name "{project}" to go ahead.',
  'upgrade.running': 'Upgrading…', 'upgrade.phase': 'Step', 'upgrade.eta': '{pct} · {rate}/s · {eta} left',
  'upgrade.upgraded': 'Upgraded. The services were down for {d}.', 'upgrade.backupId': 'Backup made before: {id}',
  'upgrade.rolledBack': 'The upgrade failed, so docker-maim put everything back as it was: the old images, data and config run again.',
  'upgrade.rollbackFailed': 'The upgrade failed and putting things back failed too. Run these commands to recover:',
  'upgrade.failed': 'The upgrade failed before anything changed.', 'upgrade.refused': 'Nothing was changed.',
  'upgrade.logs': 'Last log lines of the failing service', 'upgrade.again': 'Plan another upgrade',
  'rollback.title': 'Roll back to a backup', 'rollback.pick': 'Backup to go back to', 'rollback.last': 'The last upgrade\'s backup (default)',
  'rollback.go': 'Roll back', 'rollback.confirm': 'Roll back {project} to {id}? Data, config and compose files and the images it ran come back; a safety backup of the current state is made first.',
  'rollback.done': 'Rolled back to backup {id}.', 'rollback.resolved': 'The interrupted {op} is resolved.', 'rollback.running': 'Rolling back…',
  'err.title': 'Something went wrong', 'err.output': 'docker-maim gave an answer the extension cannot read.',
  'err.schema': 'This docker-maim is newer than the extension: update the extension.',
  'err.project': 'The project or backup was not found. Is the project still on this engine?',
  'err.backup': 'A backup is damaged: its files do not match what was recorded. Nothing was changed.',
  'err.locked': 'Another docker-maim operation is working on this project. Wait for it to finish.',
  'err.interrupted': 'An earlier operation was interrupted: resolve it first (Roll back).',
  'err.engine': 'Docker is not reachable. Is Docker Desktop running?',
  'err.breaking': 'This upgrade is a breaking change and needs your explicit confirmation.',
  'err.refused': 'The operation was refused before anything changed.',
  'err.rolledBack': 'The upgrade failed and was rolled back: the project runs as before.',
  'err.rollbackFailed': 'The upgrade failed and the rollback failed too: recover by hand.',
  'err.usage': 'The extension asked docker-maim something it does not understand (a version mismatch?).',
  'err.cancelled': 'The operation was cancelled.', 'err.generic': 'The operation failed.',

  // new screens' words
  'common.containers': 'Containers', 'common.viewContainer': 'Open {name} in Containers', 'common.viewVolume': 'Open volume {name} in Volumes',
  'upgrade.options': 'Options', 'upgrade.composeFile': 'New compose file of the release (--compose-file)',
  'upgrade.composeFileHelp': 'Path on this computer; merged with the project\'s compose file it replaces and written in place after the backup.',
  'upgrade.chooseFile': 'Choose…', 'upgrade.reset': 'Empty after the backup (--reset-data)',
  'upgrade.resetHelp': 'An emptied source starts afresh on the new version; its old contents stay in the backup.',
  'upgrade.resetChosen': 'Emptied after the backup: {sources}',
  'upgrade.migrateDb': 'Move the data by dump and load (--migrate-db)', 'upgrade.databases': 'Databases', 'upgrade.database': '{service}: {engine} {from} → {to}: {decision}',
  'upgrade.steps': 'Steps',
  'toast.upgraded': '{project} upgraded.', 'toast.rolledBack': 'The upgrade of {project} failed and was rolled back.',
  'toast.rollbackFailed': 'The upgrade of {project} failed and could not be rolled back.',
  'toast.failed': 'The upgrade of {project} failed.', 'toast.refused': 'The upgrade of {project} was refused: nothing changed.',
  // names the CLI prints (docs/json.md, docs/schema): steps, operations, outcomes, statuses
  'phase.plan': 'plan', 'phase.pre-backup': 'pre-backup hooks', 'phase.dump': 'database dumps', 'phase.backup-hot': 'backup (running)',
  'phase.stop': 'stop', 'phase.backup': 'backup', 'phase.verify': 'verify', 'phase.reset': 'reset data', 'phase.merge': 'merge config',
  'phase.adopt': 'adopt compose file', 'phase.recreate': 'recreate', 'phase.gate': 'health check', 'phase.post-upgrade': 'post-upgrade hooks',
  'phase.commit': 'commit', 'phase.safety-backup': 'safety backup', 'phase.safety-hot': 'safety backup (running)', 'phase.restore': 'restore', 'phase.repin': 're-pin images',
  'phase.start': 'start', 'phase.post-backup': 'post-backup hooks', 'phase.migrate-db': 'migrate database', 'phase.dump-db': 'dump the database (others stopped)', 'phase.resolve': 'resolve the interrupted operation',
  'phase.planned': 'planned', 'phase.backing-up': 'backing up', 'phase.backed-up': 'backed up', 'phase.verifying': 'verifying',
  'phase.resetting': 'resetting data', 'phase.merging': 'merging config', 'phase.adopting': 'adopting compose file',
  'phase.recreating': 'recreating', 'phase.health': 'health check', 'phase.rolling-back': 'rolling back', 'phase.restoring': 'restoring',
  'op.upgrade': 'upgrade', 'op.restore': 'restore', 'op.rollback': 'rollback', 'op.backup': 'backup',
  'outcome.upgraded': 'upgraded', 'outcome.nothing-to-do': 'nothing to do', 'outcome.dry-run': 'dry run', 'outcome.refused': 'refused',
  'outcome.failed': 'failed', 'outcome.rolled-back': 'rolled back', 'outcome.rollback-failed': 'rollback failed',
  'backupStatus.complete': 'complete', 'backupStatus.incomplete': 'incomplete', 'backupStatus.damaged': 'damaged', 'backupStatus.unreadable': 'unreadable',
  'taskStatus.running': 'running', 'taskStatus.done': 'done', 'taskStatus.error': 'error',
  'reason.manual': 'manual', 'reason.upgrade': 'before an upgrade', 'reason.pre-restore': 'before a restore', 'reason.pre-rollback': 'before a rollback',
  'kind.volume': 'volume', 'kind.bind-dir': 'folder', 'kind.bind-file': 'file', 'kind.project-file': 'project file',
  'action.merge': 'merged', 'action.copy-template': 'copied from the template',
  'state.created': 'created', 'state.running': 'running', 'state.paused': 'paused', 'state.restarting': 'restarting',
  'state.removing': 'removing', 'state.exited': 'exited', 'state.dead': 'dead',
  'decision.same': 'same version', 'decision.fresh': 'no data yet', 'decision.in-place': 'upgraded in place by the new server',
  'decision.manual': 'you run the upgrade tool', 'decision.reset': 'emptied (--reset-data)', 'decision.unknown': 'cannot tell',
  'decision.refused': 'refused', 'decision.migrate': 'dump and load (--migrate-db)',
  'health.healthy': 'healthy', 'health.unhealthy': 'unhealthy', 'health.starting': 'starting', 'health.none': 'no health check',
};
type Key = keyof typeof en;
// Chinese has one plural form (other): no ".one" messages.
type ZhKey = Exclude<Key, `${string}.one`>;
const zh: Record<ZhKey, string> = {
  'app.title': 'Compose 升级', 'app.subtitle': '安全地备份、升级和回滚 Compose 项目（docker-maim）',
  'lang.switch': 'English', 'common.refresh': '刷新', 'common.back': '所有项目', 'common.cancel': '取消',
  'common.details': '详细信息', 'common.loading': '加载中…', 'common.close': '关闭',
  'projects.title': '本机上的项目', 'projects.none': '此引擎上没有 Compose 项目的容器。',
  'projects.name': '项目', 'projects.services': '服务', 'projects.images': '镜像（版本）', 'projects.state': '状态',
  'projects.lastUpgrade': '上次升级', 'projects.open': '打开', 'projects.never': '从未',
  'projects.running': '{n}/{m} 运行中',
  'tab.overview': '概览', 'tab.backups': '备份', 'tab.upgrade': '升级', 'tab.rollback': '回滚',
  'interrupted.title': '有操作被中断', 'interrupted.body': '此项目的 {op} 停在了“{phase}”步骤（{time}）。解决之前，项目可能处于改到一半的状态。',
  'interrupted.resolve': '立即解决（回滚）',
  'detached.running': '{verb} 进行中',
  'status.service': '服务', 'status.image': '镜像', 'status.version': '版本', 'status.state': '状态', 'status.health': '健康',
  'status.lastUpgrade': '上次升级：{result}，{time}，停机 {downtime}', 'status.noUpgrade': '还没有升级记录。',
  'backups.title': '备份', 'backups.none': '还没有备份。', 'backups.time': '时间', 'backups.reason': '原因', 'backups.size': '大小',
  'backups.status': '状态', 'backups.versions': '内容', 'backups.verify': '校验', 'backups.restore': '恢复', 'backups.prune': '清理旧备份',
  'backups.backupNow': '立即备份', 'backups.verified': '备份 {id} 完好：{archives}，{bytes}。',
  'backups.restoreConfirm': '恢复备份 {id}？项目的数据、配置和 compose 文件将回到当时的样子。恢复前会先为当前状态做一份安全备份。',
  'backups.restored': '已恢复备份 {id}。恢复前的状态保存在备份 {safety}。', 'backups.backedUp': '已备份 {id}：{bytes}。',
  'backups.pruneConfirm': '将删除这些备份：{ids}。继续？', 'backups.pruneNothing': '没有可清理的：每个备份都被某条规则保留。',
  'backups.pruned.other': '已删除 {n} 个备份。',
  'backups.count.other': '保留了 {n} 个备份',
  'archives.other': '{n} 个归档',
  'upgrade.title': '升级', 'upgrade.targetHelp': '留空则升级到 compose 文件中写的镜像；也可以为某个服务填写新镜像。',
  'upgrade.newImage': '{svc} 的新镜像', 'upgrade.plan': '查看会改变什么（演练）', 'upgrade.planTitle': '升级计划',
  'upgrade.nothing': '无需升级：镜像已是 compose 文件所写的最新版本。',
  'upgrade.images': '镜像', 'upgrade.data': '要备份的数据（{bytes}，剩余空间 {free}）', 'upgrade.downtime': '预计停机：约 {d}',
  'upgrade.configs': '配置变化（已隐藏密钥）', 'upgrade.breaking': '不兼容的变化', 'upgrade.notes': '更新说明',
  'upgrade.confirm': '立即升级', 'upgrade.confirmTitle': '升级 {project}？',
  'upgrade.confirmBody': '服务会先停止，全部备份后用新镜像启动。若服务没有健康启动，docker-maim 会自动回滚。',
  'upgrade.typed': '这是不兼容的升级：升级后旧版本可能无法读取数据。输入项目名“{project}”以继续。',
  'upgrade.running': '正在升级…', 'upgrade.phase': '步骤', 'upgrade.eta': '{pct} · {rate}/秒 · 剩余 {eta}',
  'upgrade.upgraded': '升级完成。服务停机 {d}。', 'upgrade.backupId': '升级前的备份：{id}',
  'upgrade.rolledBack': '升级失败，docker-maim 已自动还原：旧镜像、数据和配置都已恢复运行。',
  'upgrade.rollbackFailed': '升级失败，自动还原也失败了。请运行以下命令手动恢复：',
  'upgrade.failed': '升级在改动任何东西之前失败了。', 'upgrade.refused': '没有做任何改动。',
  'upgrade.logs': '出错服务的最后几行日志', 'upgrade.again': '计划新的升级',
  'rollback.title': '回滚到某个备份', 'rollback.pick': '要回到的备份', 'rollback.last': '上次升级的备份（默认）',
  'rollback.go': '回滚', 'rollback.confirm': '把 {project} 回滚到 {id}？数据、配置、compose 文件和当时的镜像都会回来；回滚前会先为当前状态做一份安全备份。',
  'rollback.done': '已回滚到备份 {id}。', 'rollback.resolved': '被中断的 {op} 已解决。', 'rollback.running': '正在回滚…',
  'err.title': '出错了', 'err.output': 'docker-maim 的回答无法读取。',
  'err.schema': '这个 docker-maim 比扩展新：请更新扩展。',
  'err.project': '找不到该项目或备份。项目还在这个引擎上吗？',
  'err.backup': '备份已损坏：文件与记录不符。没有做任何改动。',
  'err.locked': '另一个 docker-maim 操作正在处理此项目，请等它完成。',
  'err.interrupted': '之前的操作被中断了：请先解决它（回滚）。',
  'err.engine': '无法连接 Docker。Docker Desktop 在运行吗？',
  'err.breaking': '这次升级是不兼容的变化，需要你明确确认。',
  'err.refused': '操作在改动任何东西之前被拒绝。',
  'err.rolledBack': '升级失败并已回滚：项目照旧运行。',
  'err.rollbackFailed': '升级失败，回滚也失败了：请手动恢复。',
  'err.usage': '扩展向 docker-maim 发出了它不认识的请求（版本不匹配？）。',
  'err.cancelled': '操作已取消。', 'err.generic': '操作失败。',

  'common.containers': '容器', 'common.viewContainer': '在“容器”中打开 {name}', 'common.viewVolume': '在“卷”中打开卷 {name}',
  'upgrade.options': '选项', 'upgrade.composeFile': '新版本的 compose 文件（--compose-file）',
  'upgrade.composeFileHelp': '本机上的路径；与它替换的项目 compose 文件合并，备份后原地写入。',
  'upgrade.chooseFile': '选择…', 'upgrade.reset': '备份后清空（--reset-data）',
  'upgrade.resetHelp': '被清空的数据源在新版本上重新开始；旧内容保留在备份中。',
  'upgrade.resetChosen': '备份后清空：{sources}',
  'upgrade.migrateDb': '通过导出和导入迁移数据（--migrate-db）', 'upgrade.databases': '数据库', 'upgrade.database': '{service}：{engine} {from} → {to}：{decision}',
  'upgrade.steps': '步骤',
  'toast.upgraded': '{project} 已升级。', 'toast.rolledBack': '{project} 升级失败，已回滚。',
  'toast.rollbackFailed': '{project} 升级失败，且无法回滚。',
  'toast.failed': '{project} 升级失败。', 'toast.refused': '{project} 的升级被拒绝：没有做任何改动。',
  'phase.plan': '计划', 'phase.pre-backup': '备份前钩子', 'phase.dump': '数据库导出', 'phase.backup-hot': '备份（运行中）',
  'phase.stop': '停止', 'phase.backup': '备份', 'phase.verify': '校验', 'phase.reset': '清空数据', 'phase.merge': '合并配置',
  'phase.adopt': '采用 compose 文件', 'phase.recreate': '重建', 'phase.gate': '健康检查', 'phase.post-upgrade': '升级后钩子',
  'phase.commit': '提交', 'phase.safety-backup': '安全备份', 'phase.safety-hot': '安全备份（运行中）', 'phase.restore': '恢复', 'phase.repin': '重新固定镜像',
  'phase.start': '启动', 'phase.post-backup': '备份后钩子', 'phase.migrate-db': '迁移数据库', 'phase.dump-db': '导出数据库（其他服务已停止）', 'phase.resolve': '解决被中断的操作',
  'phase.planned': '已计划', 'phase.backing-up': '备份中', 'phase.backed-up': '已备份', 'phase.verifying': '校验中',
  'phase.resetting': '清空数据中', 'phase.merging': '合并配置中', 'phase.adopting': '采用 compose 文件中',
  'phase.recreating': '重建中', 'phase.health': '健康检查', 'phase.rolling-back': '回滚中', 'phase.restoring': '恢复中',
  'op.upgrade': '升级', 'op.restore': '恢复', 'op.rollback': '回滚', 'op.backup': '备份',
  'outcome.upgraded': '已升级', 'outcome.nothing-to-do': '无需升级', 'outcome.dry-run': '演练', 'outcome.refused': '已拒绝',
  'outcome.failed': '失败', 'outcome.rolled-back': '已回滚', 'outcome.rollback-failed': '回滚失败',
  'backupStatus.complete': '完整', 'backupStatus.incomplete': '不完整', 'backupStatus.damaged': '已损坏', 'backupStatus.unreadable': '无法读取',
  'taskStatus.running': '进行中', 'taskStatus.done': '完成', 'taskStatus.error': '出错',
  'reason.manual': '手动', 'reason.upgrade': '升级前', 'reason.pre-restore': '恢复前', 'reason.pre-rollback': '回滚前',
  'kind.volume': '卷', 'kind.bind-dir': '文件夹', 'kind.bind-file': '文件', 'kind.project-file': '项目文件',
  'action.merge': '已合并', 'action.copy-template': '从模板复制',
  'state.created': '已创建', 'state.running': '运行中', 'state.paused': '已暂停', 'state.restarting': '重启中',
  'state.removing': '删除中', 'state.exited': '已退出', 'state.dead': '已失效',
  'decision.same': '版本相同', 'decision.fresh': '尚无数据', 'decision.in-place': '由新服务器原地升级',
  'decision.manual': '需要你运行升级工具', 'decision.reset': '清空（--reset-data）', 'decision.unknown': '无法判断',
  'decision.refused': '拒绝', 'decision.migrate': '导出并导入（--migrate-db）',
  'health.healthy': '健康', 'health.unhealthy': '不健康', 'health.starting': '启动中', 'health.none': '无健康检查',
};
export const messages: Record<Lang, Partial<Record<Key, string>>> = { en, zh };
export type MsgKey = Key;

const fill = (s: string, vars: Record<string, string | number>) => s.replace(/\{(\w+)\}/g, (_, k) => (k in vars ? String(vars[k]) : `{${k}}`));

/** t is a message of the UI's language with its {placeholders} filled; an unknown key
 * falls back to English, then to the key itself. */
export function t(lang: Lang, key: string, vars: Record<string, string | number> = {}): string {
  const s = (messages[lang] as Record<string, string>)[key] ?? (en as Record<string, string>)[key] ?? key;
  return fill(s, vars);
}

/** tn is a counted message: the form Intl.PluralRules picks for n in the UI's language
 * (key.one, key.other, ...), with {n} formatted for that language. */
export function tn(lang: Lang, key: string, n: number, vars: Record<string, string | number> = {}): string {
  const cat = new Intl.PluralRules(lang === 'zh' ? 'zh-CN' : 'en-US').select(n);
  const m = messages[lang] as Record<string, string>;
  const s = m[`${key}.${cat}`] ?? m[`${key}.other`] ?? (en as Record<string, string>)[`${key}.other`] ?? key;
  return fill(s, { ...vars, n: new Intl.NumberFormat(lang === 'zh' ? 'zh-CN' : 'en-US').format(n) });
}

/** The groups of names docker-maim prints that the UI shows (docs/json.md, docs/schema). */
export type WordGroup = 'phase' | 'op' | 'outcome' | 'backupStatus' | 'taskStatus' | 'reason' | 'kind' | 'action' | 'state' | 'health' | 'decision';

/** word translates a name the CLI printed (a step, a status, an outcome); a name this UI
 * does not know (a newer docker-maim) is shown as printed. */
export function word(lang: Lang, group: WordGroup, name: string | undefined): string {
  if (!name) return '';
  const k = `${group}.${name}`;
  return k in en ? t(lang, k) : name;
}
