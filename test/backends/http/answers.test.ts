// What an answer means is the backend's classifier's to say; the client retries only what it calls
// transient, only where repeating is safe, and waits as long as the server asks (within limits).
import { describe, expect, it } from 'vitest';
import {
  defaultClassifier,
  formBody,
  readJson,
  retryAfterMs,
  soapBody,
  type HttpRequest,
  type HttpResponse,
} from '../../../src/backends/http/index.ts';
import { fakeLogin, iredadminStyle, mailstoreStyle, soapStyle, useFakeBackends } from '../../support/fake-backend.ts';

const backends = useFakeBackends();

const ENVELOPE = '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body/></soapenv:Envelope>';
const soapCall = (action: string, idempotent: boolean): HttpRequest => ({ method: 'POST', path: '/webservices/OXUserService', body: soapBody(ENVELOPE, action), idempotent });
const answer = (status: number, text = '', headers: HttpResponse['headers'] = {}): HttpResponse => ({ status, text, headers });

describe('failures the status code does not tell', () => {
  it('an HTTP-200 failure is a failure with the server’s message, and is not retried', async () => {
    const { fake, url } = await backends.start();
    const http = backends.client(url, iredadminStyle, { auth: fakeLogin(), retries: 3 });
    const create: HttpRequest = { method: 'POST', path: '/api/user/amy@example.com', body: formBody({ name: 'Amy' }), idempotent: true };
    await expect(http.call(create)).rejects.toMatchObject({ kind: 'Conflict', message: 'POST /api/user/amy@example.com: ALREADY_EXISTS' });
    expect(fake.hits('/api/user/amy@example.com')).toBe(1);
  });

  it('a permanent SOAP fault (HTTP 500) is not retried', async () => {
    const { fake, url } = await backends.start();
    const http = backends.client(url, soapStyle, { retries: 3 });
    await expect(http.call(soapCall('urn:getData', true))).rejects.toMatchObject({
      kind: 'NotFound',
      message: 'POST /webservices/OXUserService: NoSuchUserException: No such user ghost in context 1',
    });
    expect(fake.hits('/webservices/OXUserService')).toBe(1);
  });

  it('a transient SOAP fault is retried when the call is safe to repeat', async () => {
    const { fake, url } = await backends.start({ storageFaults: 2 });
    const http = backends.client(url, soapStyle, { retries: 3 });
    expect(await http.call(soapCall('urn:change', true))).toContain('changeResponse');
    expect(fake.hits('/webservices/OXUserService')).toBe(3);
  });

  it('a transient SOAP fault is not retried when repeating the call could do it twice', async () => {
    const { fake, url } = await backends.start({ storageFaults: 2 });
    const http = backends.client(url, soapStyle, { retries: 3 });
    await expect(http.call(soapCall('urn:change', false))).rejects.toMatchObject({ kind: 'Unavailable', message: expect.stringContaining('StorageException') });
    expect(fake.hits('/webservices/OXUserService')).toBe(1);
  });
});

describe('answers by status (the default classifier)', () => {
  it('a 5xx is retried for a call safe to repeat, then fails with the server’s last answer', async () => {
    const { fake, url } = await backends.start({ flakyFailures: 5 });
    const http = backends.client(url, defaultClassifier, { retries: 2 });
    await expect(http.call({ method: 'GET', path: '/flaky' })).rejects.toMatchObject({ kind: 'Unavailable', status: 503, message: 'GET /flaky: 503 busy' });
    expect(fake.hits('/flaky')).toBe(3);
  });

  it('a POST answered with a 5xx is not repeated', async () => {
    const { fake, url } = await backends.start({ flakyFailures: 1 });
    const http = backends.client(url, defaultClassifier, { retries: 2 });
    await expect(http.call({ method: 'POST', path: '/flaky' })).rejects.toMatchObject({ kind: 'Unavailable' });
    expect(fake.hits('/flaky')).toBe(1);
  });

  it('4xx are permanent, with the kind the status stands for', () => {
    const get: HttpRequest = { method: 'GET', path: '/users/a%40b.example' };
    expect(defaultClassifier(get, answer(204))).toMatchObject({ outcome: 'success' });
    expect(defaultClassifier(get, answer(404, 'no such user'))).toMatchObject({
      outcome: 'permanent',
      error: { kind: 'NotFound', status: 404, message: 'GET /users/a@b.example: 404 no such user' },
    });
    expect(defaultClassifier(get, answer(409))).toMatchObject({ outcome: 'permanent', error: { kind: 'Conflict', message: 'GET /users/a@b.example: 409 no details' } });
    expect(defaultClassifier(get, answer(503, '', { 'retry-after': '7' }))).toMatchObject({ outcome: 'transient', retryAfterMs: 7_000 });
  });
});

describe('Retry-After', () => {
  it('a 429 waits as long as the server asks', async () => {
    const { fake, url } = await backends.start({ throttled: { times: 1, retryAfter: '1' } });
    const http = backends.client(url, defaultClassifier);
    const call = http.call({ method: 'GET', path: '/throttled' });
    await fake.reached('/throttled');
    const refused = performance.now();
    await call;
    expect(performance.now() - refused).toBeGreaterThanOrEqual(900); // the backoff alone is 5-10 ms
    expect(fake.hits('/throttled')).toBe(2);
  });

  it('a wait longer than the backoff ceiling is cut to the ceiling', async () => {
    const { fake, url } = await backends.start({ throttled: { times: 1, retryAfter: '3600' } });
    const http = backends.client(url, defaultClassifier, { retryMaxDelayMs: 200 });
    const started = performance.now();
    await http.call({ method: 'GET', path: '/throttled' });
    const waited = performance.now() - started;
    expect(waited).toBeGreaterThanOrEqual(150); // the ceiling, not the 5 ms backoff
    expect(waited).toBeLessThan(3_000);
    expect(fake.hits('/throttled')).toBe(2);
  });

  it('a 429 is repeated even for a POST: the server did not act on it', async () => {
    const { fake, url } = await backends.start({ throttled: { times: 1, retryAfter: '0' } });
    const http = backends.client(url, defaultClassifier);
    await http.call({ method: 'POST', path: '/throttled' });
    expect(fake.hits('/throttled')).toBe(2);
  });

  it('reads seconds and HTTP dates', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(retryAfterMs(answer(429, '', { 'retry-after': '120' }), now)).toBe(120_000);
    expect(retryAfterMs(answer(503, '', { 'retry-after': 'Thu, 01 Jan 2026 00:00:30 GMT' }), now)).toBe(30_000);
    expect(retryAfterMs(answer(503, '', { 'retry-after': 'soon' }), now)).toBeUndefined();
    expect(retryAfterMs(answer(503), now)).toBeUndefined();
  });
});

describe('bodies', () => {
  it('a form is sent UTF-8 form-encoded, lists as the caller gives them', async () => {
    const { fake, url } = await backends.start();
    const http = backends.client(url, defaultClassifier);
    await http.call({
      method: 'POST',
      path: '/echo',
      body: formBody({ name: 'Zoë Müller', aliases: 'a@example.com,b@example.com', privileges: ['login', 'archive'], enabled: false, quota: 1024, skipped: undefined }),
    });
    expect(fake.lastEcho?.contentType).toBe('application/x-www-form-urlencoded');
    expect(fake.lastEcho?.fields).toEqual([
      ['name', 'Zoë Müller'],
      ['aliases', 'a@example.com,b@example.com'],
      ['privileges', 'login'],
      ['privileges', 'archive'],
      ['enabled', 'false'],
      ['quota', '1024'],
    ]);
  });

  it('a SOAP envelope is sent as XML with its SOAPAction', async () => {
    const { fake, url } = await backends.start();
    const http = backends.client(url, defaultClassifier);
    await http.call({ method: 'POST', path: '/echo', body: soapBody(ENVELOPE, 'urn:change') });
    expect(fake.lastEcho).toMatchObject({ contentType: 'text/xml; charset=utf-8', soapAction: '"urn:change"', text: ENVELOPE });
  });

  it('an answer that starts with a UTF-8 byte order mark parses as JSON (MailStore)', async () => {
    const { url } = await backends.start();
    const http = backends.client(url, mailstoreStyle);
    expect(await http.call({ method: 'POST', path: '/api/invoke/GetServerInfo' })).toMatchObject({ result: { version: '24.1' } });
    // undici's text() drops the mark already; readJson does not rely on it.
    const request: HttpRequest = { method: 'POST', path: '/api/invoke/GetServerInfo' };
    expect(readJson(request, answer(200, '\uFEFF{"statusCode":"succeeded"}'), () => true)).toEqual({ statusCode: 'succeeded' });
  });

  it('an answer that is not JSON is a Protocol error showing what came instead', () => {
    const request: HttpRequest = { method: 'GET', path: '/domains' };
    expect(() => readJson(request, answer(200, '<html>login page</html>'), () => true, 'is this James WebAdmin?')).toThrow(
      'GET /domains: the answer is not JSON ("<html>login page</html>"); is this James WebAdmin?',
    );
  });
});
