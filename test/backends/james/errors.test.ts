// James answers errors in three shapes; each becomes one readable line with a kind to branch on.
import { describe, expect, it } from 'vitest';
import { jamesError } from '../../../src/backends/james/client.ts';

const response = (status: number, text: string, contentType = 'application/json') => ({ status, text, headers: { 'content-type': contentType } });

describe('James error answers', () => {
  it('the JSON body {statusCode, type, message, details}', () => {
    const error = jamesError(
      response(400, '{"statusCode":400,"type":"InvalidArgument","message":"Username supplied is invalid","details":"Domain does not exist in DomainList"}'),
      'PUT /users/a@nowhere.test',
    );
    expect(error).toMatchObject({ kind: 'Invalid', status: 400, message: 'PUT /users/a@nowhere.test: 400 Username supplied is invalid: Domain does not exist in DomainList' });
  });

  it('the plain-text 401 of a refused token (labelled JSON all the same)', () => {
    expect(jamesError(response(401, 'Invalid Bearer header.'), 'GET /domains')).toMatchObject({
      kind: 'Unauthorized',
      message: 'GET /domains: 401 credentials refused (Invalid Bearer header.)',
    });
  });

  it('the HTML 400 of a malformed URL', () => {
    const error = jamesError(response(400, '<h1>Bad Message 400</h1><pre>reason: Bad Request</pre>', 'text/html;charset=iso-8859-1'), 'GET /users/%');
    expect(error).toMatchObject({ kind: 'Invalid', message: 'GET /users/%: 400 Bad Message 400 reason: Bad Request' });
  });

  it('a 409 is a conflict, a 5xx means unavailable', () => {
    expect(jamesError(response(409, '{"statusCode":409,"type":"WrongState","message":"user already exist","details":null}'), 'PUT /users/a@b').kind).toBe('Conflict');
    expect(jamesError(response(503, '{"statusCode":503,"type":"ServerError","message":"down","details":null}'), 'GET /users').kind).toBe('Unavailable');
  });
});
