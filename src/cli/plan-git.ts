// mailops plan --git-base <ref> [--offline] : the change between a git revision and the working
// tree, object by object — the manifest lines changed in git beside the backend changes they cause.
// --offline contacts no backend and reads no secret: the declared state only.
// Exit codes as plan's; with --offline and --detailed-exitcode, 2 means the declared state changed.
import { formatConfigError, InvalidConfigError, loadConfigFromDocuments, readManifestDocuments } from '../load/index.ts';
import type { Config } from '../model/config.ts';
import { renderReviewMarkdown } from '../render/markdown.ts';
import { renderReviewText } from '../render/review.ts';
import { checkoutBase, type BaseTree } from '../review/git.ts';
import { buildReview, displayPaths, type Review } from '../review/review.ts';
import { EXIT_CHANGES, EXIT_OK, UsageError, applyBackendUrlOverrides, loadConfig, reportFailure, reportWarnings, styleFor } from './common.ts';
import { outputFormat, planExitCode, reportBackendErrors, type PlanOptions } from './plan.ts';
import { logger, openSession } from './session.ts';

export async function planSinceRevision(options: PlanOptions): Promise<number> {
  const verbose = options.verbose ?? false;
  try {
    if (options.gitBase === undefined) throw new UsageError('--offline plans the change since a git revision: give it with --git-base <ref>');
    const format = outputFormat(options.output, ['text', 'markdown']);
    // The declared URLs are compared with the base; --backend-url only changes where the plan looks.
    const work = await loadConfig({ ...options, backendUrl: [] });
    reportWarnings(work);
    const tree = await checkoutBase(options.gitBase, options.filename);
    try {
      const base = await loadBase(tree);
      let plan;
      if (!options.offline) {
        const target = applyBackendUrlOverrides({ ...work, backends: work.backends.map((b) => ({ ...b })) }, options.backendUrl ?? []);
        const session = await openSession(target, options, logger(options), { writes: false });
        try {
          plan = await session.plan();
        } finally {
          await session.close();
        }
      }
      const review = await buildReview({ inputs: options.filename, tree, base, work, ...(plan ? { plan } : {}) });
      process.stdout.write(format === 'markdown' ? renderReviewMarkdown(review) : renderReviewText(review, { style: styleFor(process.stdout), verbose }));
      if (plan) {
        reportBackendErrors(plan);
        return planExitCode(plan, options.detailedExitcode ?? false);
      }
      return options.detailedExitcode && declaredChanges(review) ? EXIT_CHANGES : EXIT_OK;
    } finally {
      await tree.remove();
    }
  } catch (error) {
    return reportFailure(error, verbose);
  }
}

function declaredChanges(review: Review): boolean {
  return review.objects.some((o) => o.status !== 'unchanged');
}

/** The manifests at the base revision; none there (a new directory) is an empty configuration. */
async function loadBase(tree: BaseTree): Promise<Config> {
  const inputs = tree.inputs.flatMap((i) => (i.base ? [i.base] : []));
  const empty: Config = { backends: [], domains: [], users: [], aliases: [], globalQuotas: [], quotaPolicies: [], skippedDocuments: 0, warnings: [], notes: [] };
  if (inputs.length === 0) return empty;
  try {
    const { documents, errors } = await readManifestDocuments(inputs);
    return loadConfigFromDocuments(documents, errors);
  } catch (error) {
    if (!(error instanceof InvalidConfigError)) throw error;
    const shown = displayPaths(tree);
    const lines = error.errors.map((e) => `  ${formatConfigError({ ...e, position: { ...e.position, file: shown(e.position.file) } })}`);
    throw new UsageError(`the manifests at ${tree.ref} do not load, so there is nothing to compare with (plan without --git-base still works):\n${lines.join('\n')}`);
  }
}
