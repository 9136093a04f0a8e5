// mailops validate -f … : exit 0 when every document is valid, 1 (with every error) when not.
import { EXIT_OK, loadConfig, reportFailure, type CommonOptions } from './common.ts';

export async function validateCommand(options: CommonOptions): Promise<number> {
  try {
    const config = await loadConfig(options);
    const counts = [
      [config.backends.length, 'MailBackend'],
      [config.domains.length, 'MailDomain'],
      [config.users.length, 'MailUser'],
      [config.aliases.length, 'Alias'],
    ] as const;
    const parts = counts.map(([n, kind]) => `${n} ${kind}${n === 1 ? '' : kind.endsWith('s') ? 'es' : 's'}`);
    const skipped = config.skippedDocuments ? `; ${config.skippedDocuments} document${config.skippedDocuments === 1 ? '' : 's'} of other API groups skipped` : '';
    process.stdout.write(`Configuration is valid: ${parts.join(', ')}${skipped}.\n`);
    return EXIT_OK;
  } catch (error) {
    return reportFailure(error, options.verbose ?? false);
  }
}
