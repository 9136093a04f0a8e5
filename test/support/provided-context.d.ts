// Typing for values handed from test/support/global-setup.ts to tests via vitest's provide/inject.
import 'vitest';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The one real Apache James of this run (WebAdmin URL + admin JWT), or null with MAILOPS_SKIP_REAL_JAMES=1. */
    realJames: { url: string; token: string } | null;
    /** Whether the kube-apiserver and etcd binaries are built (false with MAILOPS_SKIP_REAL_KUBE=1). */
    realKube: boolean;
  }
}
