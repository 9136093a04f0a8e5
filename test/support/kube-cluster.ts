// A real API server with mailops installed as a user would install it (CRDs, then manifests/), and
// controllers run as processes under the ServiceAccount token from manifests/ (not the admin), so
// that a missing RBAC verb fails the test that needs it.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { ROOT } from './cli.ts';
import { startRealKube, type RealKube } from './real-kube.ts';
import { waitExit } from './processes.ts';

export interface TestCluster {
  kube: RealKube;
  /** kubectl as the admin; `input` is fed on stdin. */
  kubectl(args: string[], input?: string): Promise<string>;
  /** kubectl that may fail: its exit code and output. */
  kubectlResult(args: string[], input?: string): Promise<{ code: number; stdout: string; stderr: string }>;
  getJson<T = Record<string, unknown>>(args: string[]): Promise<T>;
  controllerKubeconfig: string;
  startController(args?: string[]): Promise<ControllerProcess>;
  /** What every controller started so far logged. */
  controllerLogs(): string;
  stop(): Promise<void>;
}

export interface ControllerProcess {
  child: ChildProcess;
  metricsUrl: string;
  probesUrl: string;
  /** Everything it logged so far (JSON lines). */
  log(): string;
  /** Resolves once it logs `leading`. */
  leading(timeoutMs?: number): Promise<void>;
  metric(name: string, labels?: Record<string, string>): Promise<number>;
  /** SIGTERM, waits for the exit; returns the exit code. */
  stop(): Promise<number | null>;
  kill(): Promise<void>;
}

export async function startTestCluster(): Promise<TestCluster> {
  const kube = await startRealKube();
  const kubectlResult = (args: string[], input?: string) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      const child = execFile('kubectl', ['--kubeconfig', kube.kubeconfig, ...args], { maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) =>
        resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
      );
      if (input !== undefined) child.stdin!.end(input);
      else child.stdin!.end();
    });
  const kubectl = async (args: string[], input?: string) => {
    const result = await kubectlResult(args, input);
    if (result.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed (${result.code}): ${result.stderr}`);
    return result.stdout;
  };
  await kubectl(['apply', '-f', `${ROOT}/crds/`]);
  await kubectl(['wait', '--for', 'condition=established', '--timeout=60s', 'crd', '--all']);
  await kubectl(['apply', '-k', `${ROOT}/manifests/`]);
  const token = (await kubectl(['create', 'token', 'mailops-controller', '-n', 'mailops-system', '--duration', '2h'])).trim();
  const controllerKubeconfig = kube.kubeconfigFor(token, 'mailops-controller');
  const controllers = new Set<ControllerProcess>();
  const everyLog: Array<() => string> = [];

  const startController = async (args: string[] = []) => {
    const child = spawn(
      process.execPath,
      [
        `${ROOT}/src/cli/main.ts`, 'controller',
        '--kubeconfig', controllerKubeconfig,
        '--leader-election-namespace', 'mailops-system',
        '--metrics-bind-address', '127.0.0.1:0',
        '--health-probe-bind-address', '127.0.0.1:0',
        ...args,
      ],
      { stdio: ['ignore', 'ignore', 'pipe'], detached: true, env: { ...process.env, MAILOPS_LOG_LEVEL: 'info' } },
    );
    let output = '';
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const started = Date.now();
    let urls: { metrics: string; probes: string } | undefined;
    while (!urls) {
      const line = output.split('\n').find((l) => l.includes('"controller started"'));
      if (line) {
        const parsed = JSON.parse(line) as { metrics: string; probes: string };
        urls = { metrics: parsed.metrics, probes: parsed.probes };
      } else if (child.exitCode !== null || Date.now() - started > 30_000) {
        throw new Error(`the controller did not start:\n${output}`);
      } else {
        await sleep(100);
      }
    }
    const controller: ControllerProcess = {
      child,
      metricsUrl: urls.metrics,
      probesUrl: urls.probes,
      log: () => output,
      leading: async (timeoutMs = 30_000) => {
        const deadline = Date.now() + timeoutMs;
        while (!/"msg":"leading/.test(output)) {
          if (Date.now() > deadline || child.exitCode !== null) throw new Error(`the controller did not lead:\n${output}`);
          await sleep(100);
        }
      },
      metric: async (name, labels = {}) => {
        const text = await (await fetch(`${urls!.metrics}/metrics`)).text();
        let sum = 0;
        for (const line of text.split('\n')) {
          if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
          if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
        }
        return sum;
      },
      stop: async () => {
        if (child.exitCode === null) child.kill('SIGTERM');
        if (!(await waitExit(child, 30_000))) await controller.kill();
        controllers.delete(controller);
        return child.exitCode;
      },
      kill: async () => {
        try {
          process.kill(-child.pid!, 'SIGKILL');
        } catch {
          // gone
        }
        await waitExit(child, 5_000);
        controllers.delete(controller);
      },
    };
    controllers.add(controller);
    everyLog.push(() => output);
    return controller;
  };

  return {
    kube,
    kubectl,
    kubectlResult,
    getJson: async <T>(args: string[]) => JSON.parse(await kubectl([...args, '-o', 'json'])) as T,
    controllerKubeconfig,
    startController,
    controllerLogs: () => everyLog.map((log) => log()).join('\n'),
    stop: async () => {
      for (const controller of [...controllers]) await controller.kill();
      await kube.stop();
    },
  };
}

/** Polls until `check` returns a value (not undefined); fails with the last reason after the timeout. */
export async function eventually<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await sleep(200);
  }
}

