// The one way the UI runs docker-maim: Desktop's host binary, streamed. stdout is collected
// into the command's JSON document; stderr is handed over line by line (--progress json).
import { createDockerDesktopClient } from '@docker/extension-api-client';
import { Doc, OpKind, PendingOp, args, binaryName, followEnded, isDetached, parseDoc, pendingOps } from './model';

export { binaryName } from './model';

export interface RunResult<T> { doc: T; exitCode: number; stderr: string[] }

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type DD = any;
let client: DD | undefined;
function dd(): DD {
  if (!client) client = createDockerDesktopClient();
  return client;
}

/** setClient replaces Desktop's client (tests: a scripted host). */
export function setClient(c: unknown) { client = c; }

/** ddClient is Desktop's client (or the one setClient gave), for desktop.ts. */
export function ddClient(): DD { return dd(); }

/** canDetach: docker-maim refuses --detach on Windows (no detached process there yet). */
export function canDetach(): boolean {
  try { return dd().host?.platform !== 'win32'; } catch { return false; }
}

/** run starts docker-maim with args and resolves with its document when it exits. */
export function run<T extends Doc>(args: string[], onStderrLine?: (line: string) => void): Promise<RunResult<T>> {
  return new Promise((resolve) => {
    let out = '';
    let errBuf = '';
    const stderr: string[] = [];
    const pushErr = (chunk: string) => {
      errBuf += chunk;
      const lines = errBuf.split('\n');
      errBuf = lines.pop() ?? '';
      for (const l of lines) { stderr.push(l); onStderrLine?.(l); }
    };
    let done = false;
    const finish = (exitCode: number, extra?: string) => {
      if (done) return;
      done = true;
      if (errBuf) { stderr.push(errBuf); onStderrLine?.(errBuf); errBuf = ''; }
      const doc = parseDoc<T>(out);
      if (extra && !doc.error) doc.error = { code: -1, message: extra };
      resolve({ doc, exitCode, stderr });
    };
    try {
      const c = dd();
      c.extension.host.cli.exec(binaryName(c.host?.platform), args, {
        stream: {
          onOutput(data: { stdout?: string; stderr?: string }) {
            if (data.stdout !== undefined) out += data.stdout + '\n';
            if (data.stderr !== undefined) pushErr(data.stderr.endsWith('\n') ? data.stderr : data.stderr + '\n');
          },
          onError(e: unknown) { finish(-1, String((e as Error)?.message ?? e)); },
          onClose(code: number) { finish(code); },
          splitOutputLines: true,
        },
      });
    } catch (e) {
      finish(-1, String((e as Error)?.message ?? e));
    }
  });
}

/** runOperation runs a long operation (start: its arguments with --detach when canDetach)
 * so that it outlives this UI: Desktop kills streamed processes when the user leaves the
 * tab, which would cancel it. A detached start returns at once with the operation's ID,
 * remembered for the project until attach (which replays its progress lines from the
 * start) sees it end; the result is the operation's own document. A start that ended
 * before it ran in the background (refused, an error) is its own result. */
export async function runOperation<T extends Doc>(project: string, kind: OpKind, start: string[], onStderrLine?: (line: string) => void,
  store: Pick<Storage, 'getItem' | 'setItem' | 'removeItem'> = localStorage): Promise<RunResult<T>> {
  const r = await run<T>(start, onStderrLine);
  if (!isDetached(r.doc)) return r;
  return follow<T>(project, { id: r.doc.id, kind }, onStderrLine, store);
}

/** follow attaches to a detached operation (also one found pending when the UI opens) and
 * forgets it once it ended. */
export async function follow<T extends Doc>(project: string, op: PendingOp, onStderrLine?: (line: string) => void,
  store: Pick<Storage, 'getItem' | 'setItem' | 'removeItem'> = localStorage): Promise<RunResult<T>> {
  pendingOps.set(store, project, op);
  const a = await run<T>(args.attach(project, op.id), onStderrLine);
  if (followEnded(a.exitCode, a.doc)) pendingOps.clear(store, project);
  return a;
}
