// Answers every emulator builds (JSON and text bodies), and Halt: a handler, or a validator deep inside it,
// answers at once by throwing one (like Spark's `halt`); the server sends its response.

import type { EmulatorResponse } from './server.ts';

export interface AnswerOptions {
  status?: number;
  headers?: Readonly<Record<string, string>>;
  /** Starts the body with a UTF-8 byte order mark, as some servers do (MailStore: mailstore.md). */
  bom?: boolean;
}

const BOM = '\uFEFF';

export function textAnswer(text: string, contentType: string, options: AnswerOptions = {}): EmulatorResponse {
  return {
    status: options.status ?? 200,
    headers: { 'content-type': contentType, ...options.headers },
    body: options.bom === true ? BOM + text : text,
  };
}

export function jsonAnswer(value: unknown, options: AnswerOptions = {}): EmulatorResponse {
  return textAnswer(JSON.stringify(value), 'application/json; charset=utf-8', options);
}

/** Thrown to answer at once with `response`. */
export class Halt extends Error {
  readonly response: EmulatorResponse;
  constructor(response: EmulatorResponse) {
    super(`halt ${response.status}`);
    this.response = response;
  }
}

export function halt(response: EmulatorResponse): never {
  throw new Halt(response);
}
