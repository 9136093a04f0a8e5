// `mailops emulate --fail-mode slow` as a user runs it: the write is made, its answer comes after --fault-delay;
// an unknown mode is refused with the list of modes.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { expect, it } from 'vitest';
import { mailops, ROOT } from '../support/cli.ts';
import { waitExit } from '../support/processes.ts';

it('mailops emulate james --fail-mode slow makes each write and answers it only after --fault-delay', async () => {
  const child = spawn(process.execPath, [path.join(ROOT, 'bin', 'mailops.js'), 'emulate', 'james', '--fail-rate', '1', '--fail-mode', 'slow', '--fault-delay', '400ms'], {
    stdio: ['ignore', 'pipe', 'inherit'],
    detached: true,
  });
  try {
    const [readyLine] = (await once(createInterface({ input: child.stdout }), 'line')) as [string];
    const url = readyLine.split(' ')[1]!;
    const started = performance.now();
    const response = await fetch(`${url}/domains/slow.example`, { method: 'PUT' });
    expect(response.status).toBe(204);
    expect(performance.now() - started).toBeGreaterThanOrEqual(390);
    // Made, not only answered late: the domain is there.
    expect(await (await fetch(`${url}/domains/slow.example`)).status).toBe(204);
  } finally {
    child.kill('SIGINT');
    if (!(await waitExit(child, 10_000))) process.kill(-child.pid!, 'SIGKILL');
  }
});

it('refuses an unknown --fail-mode, naming the modes there are', async () => {
  const result = await mailops(['emulate', 'james', '--fail-rate', '0.2', '--fail-mode', 'flaky']);
  expect(result.code).toBe(1);
  expect(result.stderr).toMatch(/--fail-mode flaky: choose status .*reset .*lost .*slow .*mixed/);
});
