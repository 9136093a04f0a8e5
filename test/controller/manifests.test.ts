// What the installation manifests promise about the controller's container and permissions, read
// from the files a user applies (the RBAC rules are also checked against the controller's real
// requests, in controller.test.ts).
import { readFile } from 'node:fs/promises';
import { parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../support/cli.ts';

const documents = async (file: string) => parseAllDocuments(await readFile(`${ROOT}/manifests/${file}`, 'utf8')).map((d) => d.toJS() as Record<string, any>);

describe('the controller’s Deployment', () => {
  it('runs as a non-root user, on a read-only root filesystem, without privileges or capabilities', async () => {
    const [deployment] = await documents('deployment.yaml');
    const pod = deployment!.spec.template.spec;
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
    expect(pod.securityContext.runAsUser).toBeGreaterThan(0);
    expect(pod.automountServiceAccountToken).not.toBe(false); // it needs its token
    for (const container of pod.containers) {
      expect(container.securityContext).toEqual({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, privileged: false, capabilities: { drop: ['ALL'] } });
      // The only writable path is a scratch emptyDir.
      for (const mount of container.volumeMounts ?? []) expect(pod.volumes.find((v: { name: string }) => v.name === mount.name)).toMatchObject({ emptyDir: {} });
    }
  });

  it('is built into an image whose last stage runs as that user', async () => {
    const dockerfile = await readFile(`${ROOT}/Dockerfile`, 'utf8');
    const lastStage = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
    const [deployment] = await documents('deployment.yaml');
    expect(lastStage).toMatch(new RegExp(`^USER ${deployment!.spec.template.spec.securityContext.runAsUser}:`, 'm'));
  });
});

describe('the RBAC rules', () => {
  it('name every verb and resource: no wildcard, no write verb beyond create, update and patch', async () => {
    for (const role of (await documents('rbac.yaml')).filter((d) => d.kind.endsWith('Role'))) {
      for (const rule of role.rules) {
        for (const list of [rule.apiGroups, rule.resources, rule.verbs]) expect(list).not.toContain('*');
        for (const verb of rule.verbs) expect(['get', 'list', 'watch', 'create', 'update', 'patch']).toContain(verb);
      }
    }
  });
});
