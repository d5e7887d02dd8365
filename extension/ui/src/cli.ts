// The one way the UI runs docker-maim: Desktop's host binary, streamed. stdout is collected
// into the command's JSON document; stderr is handed over line by line (--progress json).
import { createDockerDesktopClient } from '@docker/extension-api-client';
import { Doc, binaryName, parseDoc } from './model';

export { binaryName } from './model';

export interface RunResult<T> { doc: T; exitCode: number; stderr: string[] }

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type DD = any;
let client: DD | undefined;
function dd(): DD {
  if (!client) client = createDockerDesktopClient();
  return client;
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
