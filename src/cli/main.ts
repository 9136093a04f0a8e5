// The mailops command line: one subcommand per file in this folder; this file only wires them.
import { Command, Option } from 'commander';
import { applyCommand } from './apply.ts';
import { collect } from './common.ts';
import { demoCommand } from './demo.ts';
import { emulateCommand } from './emulate.ts';
import { generateCommand } from './generate.ts';
import { planCommand } from './plan.ts';
import { validateCommand } from './validate.ts';

const program = new Command('mailops')
  .description('Declarative mail-server administration: MailDomain, MailUser, Alias and QuotaPolicy manifests, reconciled onto Apache James and friends.')
  .showHelpAfterError()
  .configureHelp({ sortSubcommands: false });

const run = (command: Promise<number>) =>
  command.then((code) => {
    process.exitCode = code;
  });

function fileOptions(command: Command): Command {
  return command
    .requiredOption('-f, --filename <path>', 'a manifest file or a directory of them (repeatable; directories are read recursively)', collect)
    .option('-v, --verbose', 'debug logs on stderr, stack traces, request counts')
    .option('--secrets-dir <dir>', 'read secret <name>/<key> from <dir>/<name>/<key> (default: $MAILOPS_SECRETS_DIR)')
    .option('--state-dir <dir>', 'where applied records and the fingerprint key live (default: $MAILOPS_STATE_DIR or ~/.local/state/mailops)')
    .option('--backend-url <name=url>', "use this URL for the MailBackend <name> instead of its spec.url (repeatable)", collect)
    .option('--allow-mass-deletion', 'let prune delete more than a domain’s maxUserDeletionPercent');
}

fileOptions(program.command('validate').description('check manifests; exit 0 when valid, 1 when not'))
  .action((options) => run(validateCommand(options)));

fileOptions(program.command('plan').description('show what apply would change on every backend'))
  .addOption(new Option('-o, --output <format>', 'output format').choices(['text', 'json', 'markdown']).default('text'))
  .option('--detailed-exitcode', 'exit 0 when there are no changes, 2 when there are, 1 on error')
  .action((options) => run(planCommand(options)));

fileOptions(program.command('apply').description('apply the changes; exit 0 when every backend converged, 1 otherwise'))
  .addOption(new Option('-o, --output <format>', 'output format').choices(['text', 'json']).default('text'))
  .option('--dry-run', 'only plan (the same as mailops plan)')
  .option('--detailed-exitcode', 'with --dry-run: exit 0 no changes, 2 changes, 1 error')
  .action((options) => run(applyCommand(options)));

program
  .command('emulate')
  .description('run a local emulator of a backend’s administration API; prints "<backend> <url>" once ready')
  .argument('<backend>', 'which backend: james')
  .option('--listen <host:port>', 'where to listen (loopback only)', '127.0.0.1:0')
  .option('--user <name>', 'administrator name, for backends that have one')
  .option('--password <password>', 'require this password (James: as 3.9 does, Password header)')
  .option('--jwt-public-key <file>', 'James: require an RS256 JWT signed by this key’s private half (as 3.8 does)')
  .option('--latency <duration>', 'add this delay to every answer, e.g. 20ms')
  .option('--fail-rate <share>', 'fail this share of requests, e.g. 0.1 or 10%')
  .option('--fail-mode <mode>', 'how requests fail: status (5xx), reset (dropped connection) or mixed', 'status')
  .option('--seed <n>', 'make the fault sequence repeatable')
  .option('--task-duration <duration>', 'James: how long a data-moving task runs')
  .option('-v, --verbose', 'stack traces on errors')
  .action((backend, options) => run(emulateCommand(backend, options)));

program
  .command('demo')
  .description('plan, apply and re-plan examples/ against an in-process James emulator')
  .option('-f, --filename <path>', 'use these manifests instead of examples/', collect)
  .option('-v, --verbose', 'more detail')
  .action((options) => run(demoCommand(options)));

program
  .command('generate')
  .description('for maintainers: write crds/ and docs/*.schema.json from the schemas in src/model')
  .action(() => run(generateCommand({})));

await program.parseAsync(process.argv);
