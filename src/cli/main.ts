// The mailops command line: one subcommand per file in this folder; this file only wires them.
// Each command's module is loaded when that command runs, so that `validate` does not pay for the
// HTTP client, the logger, the spinner or the emulators.
import { readFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import { collect } from './common.ts';

const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

const program = new Command('mailops')
  .description('Declarative mail-server administration: MailDomain, MailUser, Alias and QuotaPolicy manifests, reconciled onto Apache James and friends.')
  .version(version, '--version', 'print the version of mailops')
  .showHelpAfterError()
  .configureHelp({ sortSubcommands: false });

const run = (command: Promise<number>) =>
  command.then((code) => {
    process.exitCode = code;
  });

/** What every command that reads manifests takes. */
function inputOptions(command: Command): Command {
  return command
    .requiredOption('-f, --filename <path>', 'a manifest file or a directory of them (repeatable; directories are read recursively, links followed)', collect)
    .option('-v, --verbose', 'debug logs on stderr, stack traces, request counts');
}

/** What the commands that talk to backends take besides. */
function backendOptions(command: Command): Command {
  return inputOptions(command)
    .option('--secrets-dir <dir>', 'read secret <name>/<key> from <dir>/<name>/<key> (default: $MAILOPS_SECRETS_DIR)')
    .option('--state-dir <dir>', 'where applied records and the fingerprint key live (default: $MAILOPS_STATE_DIR or ~/.local/state/mailops)')
    .option('--backend-url <name=url>', 'use this URL for the MailBackend <name> instead of its spec.url (repeatable)', collect)
    .option('--allow-mass-deletion', 'let prune delete more than a domain’s maxUserDeletionPercent');
}

inputOptions(program.command('validate').description('check manifests; exit 0 when valid, 1 when not'))
  .action(async (options) => run((await import('./validate.ts')).validateCommand(options)));

backendOptions(program.command('plan').description('show what apply would change on every backend'))
  .addOption(new Option('-o, --output <format>', 'output format').choices(['text', 'json', 'markdown']).default('text'))
  .option('--detailed-exitcode', 'exit 0 when there are no changes, 2 when there are, 1 on error')
  .option('--git-base <ref>', 'show the change since this git revision object by object: the manifest lines changed in git beside the backend changes they cause')
  .option('--offline', 'with --git-base: the declared state only; contacts no backend and reads no secret')
  .action(async (options) => run((await import('./plan.ts')).planCommand(options)));

backendOptions(program.command('apply').description('apply the changes; exit 0 when every backend converged, 1 otherwise'))
  .addOption(new Option('-o, --output <format>', 'output format').choices(['text', 'json']).default('text'))
  .option('--dry-run', 'only plan (the same as mailops plan)')
  .option('--detailed-exitcode', 'with --dry-run: exit 0 no changes, 2 changes, 1 error')
  .action(async (options) => run((await import('./apply.ts')).applyCommand(options)));

program
  .command('export')
  .description('read live backends and write manifests that plan No changes: adopt a server without a single write')
  .requiredOption('-f, --filename <path>', 'the MailBackend manifests of the servers to read (repeatable; other kinds are ignored)', collect)
  .requiredOption('-o, --output <dir>', 'where to write the manifests')
  .option('--backend <name>', 'read this MailBackend (repeatable; default: every one in -f)', collect)
  .option('--domain <domain>', 'export only this domain (repeatable; default: every domain, and the global default quota)', collect)
  .option('--per-object', 'one file per object (<domain>/<kind>-<name>.yaml) instead of one per domain')
  .option('--force', 'overwrite files that already exist')
  .option('--secrets-dir <dir>', 'read the backends’ credentials <name>/<key> from <dir>/<name>/<key> (default: $MAILOPS_SECRETS_DIR)')
  .option('--backend-url <name=url>', 'use this URL for the MailBackend <name> instead of its spec.url (repeatable)', collect)
  .option('-v, --verbose', 'debug logs on stderr, stack traces')
  .action(async (options) => run((await import('./export.ts')).exportCommand(options)));

program
  .command('emulate')
  .description('run a local emulator of a backend’s administration API; prints "<backend> <url>" once ready')
  .argument('<backend>', 'which backend: james, iredadmin, mailstore or openxchange')
  .option('--listen <host:port>', 'where to listen (loopback only)', '127.0.0.1:0')
  .option('--user <name>', 'administrator name, for backends that have one (iRedAdmin-Pro: the admin’s email address; Open-Xchange: the master admin)')
  .option('--password <password>', 'require this password (James: as 3.9 does, Password header; iRedAdmin-Pro: the admin’s; MailStore: default admin; Open-Xchange: the master admin’s)')
  .option('--jwt-public-key <file>', 'James: require an RS256 JWT signed by this key’s private half (as 3.8 does)')
  .option('--latency <duration>', 'add this delay to every answer, e.g. 20ms')
  .option('--fail-rate <share>', 'fail this share of requests, e.g. 0.1 or 10%')
  .option('--fail-mode <mode>', 'how requests fail: status (5xx), reset (dropped connection), lost (dropped after the change was made), slow (made, answered only after --fault-delay) or mixed', 'status')
  .option('--fault-delay <duration>', 'how long a slow fault holds its answer back (default 120s; the client’s time limit should end it first)')
  .option('--seed <n>', 'make the fault sequence repeatable')
  .option('--task-duration <duration>', 'James: how long a data-moving task runs')
  .option('--session-ttl <duration>', 'iRedAdmin-Pro: how long an unused session lives, e.g. 30m (seconds when bare)')
  .option('--api-clients <list>', 'iRedAdmin-Pro: only these client addresses or networks may call the API (RESTFUL_API_CLIENTS), e.g. 192.0.2.1,10.0.0.0/8')
  .option('--legacy-envelope', 'iRedAdmin-Pro: answer {success, msg} as releases before SQL 2.6 did')
  .option('--slow <function=duration[:steps]>', 'MailStore: make a function long-running, e.g. SetUserEmailAddresses=2s (repeatable)', collect)
  .option('--fail <function[=message]>', 'MailStore: make a function fail with this message (repeatable)', collect)
  .option('--health-down <check>', 'Open-Xchange: GET /health reports this check DOWN, e.g. configdb (repeatable)', collect)
  .option('-v, --verbose', 'stack traces on errors')
  .action(async (backend, options) => run((await import('./emulate.ts')).emulateCommand(backend, options)));

program
  .command('demo')
  .description('plan, apply and re-plan examples/ against an in-process James emulator')
  .option('-f, --filename <path>', 'use these manifests instead of examples/', collect)
  .option('-v, --verbose', 'more detail')
  .action(async (options) => run((await import('./demo.ts')).demoCommand(options)));

program
  .command('controller')
  .description('run the Kubernetes controller: watch the mailops resources and reconcile them (KUBECONFIG or in-cluster)')
  .option('--kubeconfig <file>', 'kubeconfig to use (default: $KUBECONFIG, ~/.kube/config, or the in-cluster service account)')
  .option('--namespace <ns>', 'watch this namespace only (default: all namespaces)')
  .option('--metrics-bind-address <addr>', 'where /metrics listens: HOST:PORT, :PORT, or 0 for off', '127.0.0.1:8080')
  .option('--health-probe-bind-address <addr>', 'where /healthz and /readyz listen: HOST:PORT, :PORT, or 0 for off', '127.0.0.1:8081')
  .option('--resync-interval <duration>', 'how often every backend is observed for drift', '10m')
  .option('--leader-elect', 'take a Lease before reconciling, so that only one replica works at a time')
  .option('--leader-election-namespace <ns>', 'where the Lease and the fingerprint-key Secret live (default: the pod’s namespace, else --namespace, else default)')
  .option('-v, --verbose', 'debug logs')
  .action(async (options) => run((await import('./controller.ts')).controllerCommand(options)));

program
  .command('watch')
  .description('apply a git repository of manifests: each new commit at once, drift corrected at every interval (no Kubernetes needed)')
  .requiredOption('--repo <path-or-url>', 'the repository: a local path, or an https, ssh, git or file URL (credentials from git: ssh keys, credential helpers; never in the URL)')
  .option('--branch <name>', 'the branch to follow', 'main')
  .option('--path <folder>', 'the folder of the repository that holds the manifests', '.')
  .option('--interval <duration>', 'how often the backends are observed and drift corrected', '1m')
  .option('--fetch-interval <duration>', 'how often the branch is fetched (default: the interval, at most 1m)')
  .option('--listen <addr>', 'where /status, /metrics, /healthz and /readyz listen: HOST:PORT, :PORT, or 0 for off', '127.0.0.1:8082')
  .option('--status-file <file>', 'where the status is written (default: <state dir>/watch/<id>/status.json)')
  .option('--suspend-file <file>', 'while this file exists, nothing is fetched or applied (default: <state dir>/watch/suspend)')
  .option('--secrets-dir <dir>', 'read secret <name>/<key> from <dir>/<name>/<key> (default: $MAILOPS_SECRETS_DIR)')
  .option('--state-dir <dir>', 'records, the fingerprint key and the clone (default: $MAILOPS_STATE_DIR or ~/.local/state/mailops)')
  .option('--backend-url <name=url>', 'use this URL for the MailBackend <name> instead of its spec.url (repeatable)', collect)
  .option('--allow-mass-deletion', 'let prune delete more than a domain’s maxUserDeletionPercent')
  .option('--git-timeout <duration>', 'a git command that runs longer is stopped', '2m')
  .option('-v, --verbose', 'debug logs')
  .action(async (options) => run((await import('./watch.ts')).watchCommand(options)));

program
  .command('generate')
  .description('for maintainers: write crds/ and docs/*.schema.json from the schemas in src/model')
  .action(async () => run((await import('./generate.ts')).generateCommand({})));

// `mailops <unknown> --help` must fail like `mailops <unknown>`, not print the root help and
// succeed: commander answers --help before it looks at the command name.
const first = process.argv.slice(2).find((arg) => !arg.startsWith('-'));
if (first !== undefined && first !== 'help' && !program.commands.some((c) => c.name() === first || c.aliases().includes(first))) {
  program.error(`error: unknown command '${first}'`, { code: 'commander.unknownCommand', exitCode: 1 });
}

await program.parseAsync(process.argv);
