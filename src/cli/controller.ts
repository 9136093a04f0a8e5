// mailops controller: the Kubernetes controller, in a cluster (in-cluster service account) or
// outside one (--kubeconfig / KUBECONFIG). Logs are JSON lines on stderr (info and up by default).
import { parseDuration } from '../backends/emulator/duration.ts';
import { createLogger } from '../log.ts';
import { EXIT_OK, UsageError, reportFailure } from './common.ts';

export interface ControllerCommandOptions {
  kubeconfig?: string;
  namespace?: string;
  metricsBindAddress: string;
  healthProbeBindAddress: string;
  resyncInterval: string;
  leaderElect?: boolean;
  leaderElectionNamespace?: string;
  verbose?: boolean;
}

export async function controllerCommand(options: ControllerCommandOptions): Promise<number> {
  const log = createLogger(options.verbose ? 'debug' : (process.env.MAILOPS_LOG_LEVEL ?? 'info'));
  try {
    const resyncIntervalMs = duration(options.resyncInterval, '--resync-interval');
    if (resyncIntervalMs < 1000) throw new UsageError('--resync-interval: give at least 1s');
    const { startController } = await import('../controller/controller.ts');
    const controller = await startController({
      ...(options.kubeconfig ? { kubeconfig: options.kubeconfig } : {}),
      ...(options.namespace ? { namespace: options.namespace } : {}),
      ...(options.leaderElectionNamespace ? { leaderElectionNamespace: options.leaderElectionNamespace } : {}),
      metricsBindAddress: options.metricsBindAddress,
      healthProbeBindAddress: options.healthProbeBindAddress,
      resyncIntervalMs,
      leaderElect: options.leaderElect ?? false,
      log,
    });
    log.info({ metrics: controller.metricsUrl, probes: controller.probesUrl }, 'controller started');
    const onSignal = (signal: string) => {
      log.info({ signal }, 'shutting down');
      void controller.stop();
    };
    process.once('SIGTERM', () => onSignal('SIGTERM'));
    process.once('SIGINT', () => onSignal('SIGINT'));
    await controller.done;
    return process.exitCode === 1 ? 1 : EXIT_OK;
  } catch (error) {
    return reportFailure(error, options.verbose ?? false);
  }
}

function duration(text: string, flag: string): number {
  try {
    return parseDuration(text, 's');
  } catch (error) {
    throw new UsageError(`${flag} ${text}: ${(error as Error).message}`);
  }
}
