// Starts a real Kubernetes API server (kube-apiserver 1.35 with etcd 3.6) for the controller tests:
// what controller-runtime's envtest runs. The binaries are built once from the Go module proxy by
// scripts/kube-binaries.sh and cached outside the repository, keyed by version. Every start gets a
// fresh working directory, its own ports, service-account signing keys and an admin token; every
// listener is bound to 127.0.0.1. There is no controller-manager, scheduler or kubelet: nothing
// garbage-collects, namespaces never finish terminating, pods never run.
import { execFile } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { Agent, fetch } from 'undici';
import { freePort, startServerProcess, tail } from './processes.ts';

const START_TIMEOUT_MS = 60_000;
const BUILD_TIMEOUT_MS = 30 * 60_000;

export interface RealKube {
  /** https://127.0.0.1:PORT */
  url: string;
  adminToken: string;
  /** A kubeconfig file for the admin (system:masters). */
  kubeconfig: string;
  workDir: string;
  /** When the API server was (re)started and became ready. */
  readyTimes: Date[];
  /** What service accounts asked of the API server so far (its audit log, metadata level). */
  auditEvents(): AuditEvent[];
  /** Writes a kubeconfig that authenticates with `token` (a ServiceAccount's) and returns its path. */
  kubeconfigFor(token: string, name: string): string;
  /** Kills the API server (etcd keeps the data); `start` brings it back on the same port. */
  stopApiServer(): Promise<void>;
  startApiServer(): Promise<void>;
  stop(): Promise<void>;
}

/** One entry of the API server's audit log (audit.k8s.io/v1 Event, the fields the tests read). */
export interface AuditEvent {
  stage: string;
  verb: string;
  user: { username: string };
  objectRef?: { apiGroup?: string; resource?: string; subresource?: string; namespace?: string; name?: string };
  responseStatus?: { code?: number };
  requestReceivedTimestamp: string;
  annotations?: Record<string, string>;
}

// Service accounts only (the controllers under test), one entry per finished request: the RBAC test
// compares what the controller asked for with what manifests/ grants.
const AUDIT_POLICY = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
  - level: Metadata
    userGroups: ["system:serviceaccounts"]
  - level: None
`;

/** Builds (first time) or finds the binaries; returns their directory. */
export async function ensureKubeBinaries(): Promise<string> {
  const script = join(import.meta.dirname, '..', '..', 'scripts', 'kube-binaries.sh');
  const { stdout } = await promisify(execFile)(script, [], { timeout: BUILD_TIMEOUT_MS, maxBuffer: 64 * 1024 * 1024 }).catch((error: Error & { stderr?: string }) => {
    throw new Error(`could not build kube-apiserver and etcd with ${script}: ${error.message}\n${(error.stderr ?? '').split('\n').slice(-30).join('\n')}`);
  });
  return stdout.trim().split('\n').at(-1)!;
}

function kubeconfigText(url: string, token: string, name: string, caFile: string): string {
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'test', cluster: { server: url, 'certificate-authority': caFile } }],
    users: [{ name, user: { token } }],
    contexts: [{ name, context: { cluster: 'test', user: name } }],
    'current-context': name,
  });
}

export async function startRealKube(): Promise<RealKube> {
  const bin = await ensureKubeBinaries();
  const workDir = mkdtempSync(join(tmpdir(), 'mailops-kube-'));
  const [etcdClient, etcdPeer, etcdMetrics, apiPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const certDir = join(workDir, 'certs');
  mkdirSync(certDir);
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  writeFileSync(join(workDir, 'sa.pub'), publicKey.export({ type: 'spki', format: 'pem' }));
  writeFileSync(join(workDir, 'sa.key'), privateKey.export({ type: 'pkcs8', format: 'pem' }));
  const adminToken = randomBytes(24).toString('hex');
  writeFileSync(join(workDir, 'tokens.csv'), `${adminToken},admin,1,"system:masters"\n`);
  writeFileSync(join(workDir, 'audit-policy.yaml'), AUDIT_POLICY);
  const auditLog = join(workDir, 'audit.log');

  const etcdLog = join(workDir, 'etcd.log');
  const etcd = startServerProcess(
    join(bin, 'etcd'),
    [
      '--data-dir', join(workDir, 'etcd'),
      '--listen-client-urls', `http://127.0.0.1:${etcdClient}`,
      '--advertise-client-urls', `http://127.0.0.1:${etcdClient}`,
      '--listen-peer-urls', `http://127.0.0.1:${etcdPeer}`,
      '--initial-advertise-peer-urls', `http://127.0.0.1:${etcdPeer}`,
      '--initial-cluster', `default=http://127.0.0.1:${etcdPeer}`,
      '--listen-metrics-urls', `http://127.0.0.1:${etcdMetrics}`,
      '--unsafe-no-fsync',
    ],
    { cwd: workDir, logFile: etcdLog, workDir, graceMs: 3_000, removeWorkDir: false },
  );
  const apiLog = join(workDir, 'kube-apiserver.log');
  const apiArgs = [
    `--etcd-servers=http://127.0.0.1:${etcdClient}`,
    `--secure-port=${apiPort}`,
    '--bind-address=127.0.0.1',
    '--advertise-address=127.0.0.1',
    `--cert-dir=${certDir}`,
    '--service-cluster-ip-range=10.0.0.0/24',
    '--allow-privileged=true',
    '--disable-admission-plugins=ServiceAccount',
    '--authorization-mode=RBAC',
    '--service-account-issuer=https://kubernetes.default.svc',
    `--service-account-key-file=${join(workDir, 'sa.pub')}`,
    `--service-account-signing-key-file=${join(workDir, 'sa.key')}`,
    `--token-auth-file=${join(workDir, 'tokens.csv')}`,
    `--audit-policy-file=${join(workDir, 'audit-policy.yaml')}`,
    `--audit-log-path=${auditLog}`,
    '--audit-log-format=json',
    '--audit-log-mode=blocking',
  ];
  // The API server takes its time over a graceful shutdown; the tests do not need one.
  const startApi = () => startServerProcess(join(bin, 'kube-apiserver'), apiArgs, { cwd: workDir, logFile: apiLog, workDir, graceMs: 2_000, removeWorkDir: false });
  let api = startApi();
  const stop = async () => {
    for (const p of [api, etcd]) await p.stop();
    const { rmSync } = await import('node:fs');
    rmSync(workDir, { recursive: true, force: true });
  };

  const url = `https://127.0.0.1:${apiPort}`;
  // The serving certificate is made at start-up; until it exists, readiness is asked without verification.
  const waitReady = async () => {
    const insecure = new Agent({ connect: { rejectUnauthorized: false } });
    const deadline = Date.now() + START_TIMEOUT_MS;
    try {
      for (;;) {
        const ended = api.ended() ?? etcd.ended();
        if (ended !== undefined) {
          const logs = `etcd:\n${tail(etcdLog, 20)}\nkube-apiserver:\n${tail(apiLog, 40)}`;
          await stop();
          throw new Error(`the test API server stopped early (${ended}):\n${logs}`);
        }
        try {
          const res = await fetch(`${url}/readyz`, { headers: { authorization: `Bearer ${adminToken}` }, dispatcher: insecure, signal: AbortSignal.timeout(2000) });
          const text = await res.text();
          if (res.status === 200 && text === 'ok') return;
        } catch {
          // not listening yet
        }
        if (Date.now() > deadline) {
          const logs = tail(apiLog, 40);
          await stop();
          throw new Error(`kube-apiserver was not ready within ${START_TIMEOUT_MS / 1000} s:\n${logs}`);
        }
        await sleep(250);
      }
    } finally {
      await insecure.close();
    }
  };
  await waitReady();
  const readyTimes = [new Date()];

  const caFile = join(certDir, 'apiserver.crt');
  const kubeconfigFor = (token: string, name: string) => {
    const file = join(workDir, `kubeconfig-${name}.json`);
    writeFileSync(file, kubeconfigText(url, token, name, caFile), { mode: 0o600 });
    return file;
  };
  return {
    url,
    adminToken,
    kubeconfig: kubeconfigFor(adminToken, 'admin'),
    workDir,
    kubeconfigFor,
    readyTimes,
    auditEvents: () => {
      let text = '';
      try {
        text = readFileSync(auditLog, 'utf8');
      } catch {
        // nothing audited yet
      }
      return text.split('\n').filter(Boolean).map((line) => JSON.parse(line) as AuditEvent);
    },
    stopApiServer: () => api.stop(),
    startApiServer: async () => {
      api = startApi();
      await waitReady();
      readyTimes.push(new Date());
    },
    stop,
  };
}
