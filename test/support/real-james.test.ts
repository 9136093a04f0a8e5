import { describe, expect, inject, it } from 'vitest';

const james = inject('realJames');

describe.skipIf(james === null)('real Apache James (test harness)', () => {
  const url = james?.url ?? '';
  const auth = { authorization: `Bearer ${james?.token ?? ''}` };

  it('answers /healthcheck with 200 without a token', async () => {
    const res = await fetch(`${url}/healthcheck`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { status?: unknown };
    expect(body.status).toBe('healthy');
  });

  it('lists the default domain with the admin token', async () => {
    const res = await fetch(`${url}/domains`, { headers: auth });
    expect(res.status).toBe(200);
    expect(await res.json()).toContain('localhost');
  });

  // James 3.8.1 labels these bodies `Content-Type: application/json` although they are plain text.
  it('refuses /domains without a token: 401 with a plain-text body', async () => {
    const res = await fetch(`${url}/domains`);
    expect(res.status).toBe(401);
    const body = await res.text();
    expect(body).toBe('No Bearer header.');
    expect(() => JSON.parse(body) as unknown).toThrow();
  });

  it('refuses /domains with a token it cannot verify: 401 with a plain-text body', async () => {
    const res = await fetch(`${url}/domains`, { headers: { authorization: 'Bearer not-a-jwt' } });
    expect(res.status).toBe(401);
    expect(await res.text()).toBe('Invalid Bearer header.');
  });
});
