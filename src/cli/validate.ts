// mailops validate -f … : exit 0 when every document is valid, 1 (with every error) when not.
// Warnings (valid, but probably not meant) are printed and do not change the exit code.
import { EXIT_OK, loadConfig, reportFailure, reportWarnings, type InputOptions } from './common.ts';

export async function validateCommand(options: InputOptions): Promise<number> {
  try {
    const config = await loadConfig(options);
    reportWarnings(config);
    const counts = [
      [config.backends.length, 'MailBackend', 'MailBackends'],
      [config.domains.length, 'MailDomain', 'MailDomains'],
      [config.users.length, 'MailUser', 'MailUsers'],
      [config.aliases.length, 'Alias', 'Aliases'],
      [config.quotaPolicies.length, 'QuotaPolicy', 'QuotaPolicies'],
    ] as const;
    const parts = counts.map(([n, one, many]) => `${n} ${n === 1 ? one : many}`);
    const skipped = config.skippedDocuments ? `; ${config.skippedDocuments} document${config.skippedDocuments === 1 ? '' : 's'} of other API groups skipped` : '';
    process.stdout.write(`Configuration is valid: ${parts.join(', ')}${skipped}.\n`);
    for (const note of config.notes) process.stdout.write(`Note: ${note}\n`);
    return EXIT_OK;
  } catch (error) {
    return reportFailure(error, options.verbose ?? false);
  }
}
