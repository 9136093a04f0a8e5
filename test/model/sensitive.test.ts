// The redactor behind every message that may quote a backend's answer: the secrets alive in the
// process are taken out, in whatever form the answer quoted them.
import { describe, expect, it } from 'vitest';
import { Sensitive, redactSecrets } from '../../src/model/sensitive.ts';

describe('redactSecrets', () => {
  const password = new Sensitive('Pa55 w&rd<"x');
  const admin = new Sensitive('s3cret-admin');

  it('takes a secret out as it is, URL-, form-, JSON- and XML-escaped', () => {
    const value = password.reveal();
    for (const quoted of [value, encodeURIComponent(value), new URLSearchParams({ p: value }).toString().slice(2), JSON.stringify(value), 'Pa55 w&amp;rd&lt;&quot;x']) {
      expect(redactSecrets(`500: {"message": "user=${quoted}"}`)).toBe(`500: {"message": "user=${quoted.startsWith('"') ? '"(sensitive)"' : '(sensitive)'}"}`);
    }
  });

  it('takes out a base64 run that holds a secret, such as a Basic login quoted back', () => {
    const basic = Buffer.from(`admin:${admin.reveal()}`).toString('base64');
    expect(redactSecrets(`authorization: Basic ${basic}\naccept: */*`)).toBe('authorization: Basic (sensitive)\naccept: */*');
  });

  it('leaves text without a secret as it is, and does not search for values too short to be one', () => {
    const short = new Sensitive('abc');
    expect(redactSecrets('GET /users/abc: 404 not found')).toBe('GET /users/abc: 404 not found');
    expect(short.reveal()).toBe('abc');
    expect(redactSecrets('s3cret-admin s3cret-admin')).toBe('(sensitive) (sensitive)');
  });

  it('takes out every one of many secrets that start alike, the longest where they overlap', () => {
    // Passwords handed out by a script share a prefix ("Welcome-2024-…"); each is still found.
    const alike = Array.from({ length: 2000 }, (_, i) => new Sensitive(`Welcome-2024-${i}`));
    expect(redactSecrets('a Welcome-2024-1999 b Welcome-2024-7 c Welcome-2024-')).toBe('a (sensitive) b (sensitive) c Welcome-2024-');
    // "Welcome-2024-12" is a secret and so is "Welcome-2024-1234": the longer one is taken whole.
    expect(redactSecrets('x=Welcome-2024-1234;')).toBe('x=(sensitive);');
    expect(alike.length).toBe(2000);
  });
});
