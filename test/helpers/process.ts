import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';

export const ROOT = path.resolve(import.meta.dirname, '../..');
export const CLI = path.join(ROOT, 'dist/cli.js');

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the built CLI to completion. */
export function runCli(args: string[], opts: { cwd?: string; timeoutMs?: number; nodeArgs?: string[] } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...(opts.nodeArgs ?? []), CLI, ...args], { cwd: opts.cwd ?? ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 20_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/**
 * Whether `meshgate serve` has logged its `ready` line (text or JSON format). Only that whole
 * line counts: `(/healthz/ready)` in the status line comes earlier, before the gateway is ready.
 */
export function loggedReady(log: string): boolean {
  return /^\S+ info\s+ready$/m.test(log) || /^\{.*"msg":"ready"\}$/m.test(log);
}

export interface ServeProcess {
  child: ChildProcess;
  /** Local port of each Gateway port, read from the "listening" log lines. */
  ports: Map<number, number>;
  statusPort: number;
  adminPort: number;
  log(): string;
  /** Sends SIGTERM and waits for the exit code. */
  stop(): Promise<number | null>;
}

/** Starts `meshgate serve` and waits for its "ready" log line. */
export function startServe(args: string[], opts: { cwd?: string; timeoutMs?: number; nodeArgs?: string[] } = {}): Promise<ServeProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...(opts.nodeArgs ?? []), CLI, 'serve', ...args], { cwd: opts.cwd ?? ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let log = '';
    const ports = new Map<number, number>();
    let statusPort = 0;
    let adminPort = 0;
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`meshgate serve did not become ready:\n${log}`));
    }, opts.timeoutMs ?? 15_000);
    const onData = (d: Buffer) => {
      log += d.toString();
      for (const m of log.matchAll(/listening: gateway port (\d+) on \S+:(\d+)/g)) ports.set(Number(m[1]), Number(m[2]));
      const st = /status on \S+:(\d+) .*admin on \S+:(\d+)/.exec(log);
      if (st) {
        statusPort = Number(st[1]);
        adminPort = Number(st[2]);
      }
      if (loggedReady(log) && statusPort) {
        clearTimeout(timer);
        resolve({
          child,
          ports,
          statusPort,
          adminPort,
          log: () => log,
          stop: async () => {
            child.kill('SIGTERM');
            return exited;
          },
        });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`meshgate serve exited with ${code} before ready:\n${log}`));
    });
  });
}
