// A proxy between mailops and a backend that kills mailops at a chosen request: the way to crash a
// run at an exact step of an operation, against the emulator and the real server alike. Until it
// is armed it passes everything through. Once armed, the first request that matches is the trap;
// what happens to it is the test's choice:
//   before — the backend never sees it;
//   after  — the backend applies it, then mailops dies before reading the answer;
//   hold   — the request stays open (a long poll in progress) while mailops dies.
import { createServer, request as forward, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type Trap = { method: string; path: RegExp; when: 'before' | 'after' | 'hold' };

export interface InterruptingProxy {
  url: string;
  /** Sets the trap; the promise resolves once it was sprung (and `kill` was called). */
  arm(trap: Trap, kill: () => void): Promise<void>;
  close(): Promise<void>;
}

export async function startInterruptingProxy(target: string): Promise<InterruptingProxy> {
  const upstream = new URL(target);
  let armed: { trap: Trap; kill: () => void; sprung: () => void } | undefined;

  const pass = (incoming: IncomingMessage, body: Buffer, onAnswer: (status: number, headers: IncomingMessage['headers'], answer: Buffer) => void) => {
    const outgoing = forward(
      { host: upstream.hostname, port: upstream.port, method: incoming.method, path: incoming.url, headers: { ...incoming.headers, host: upstream.host } },
      (answer) => {
        const chunks: Buffer[] = [];
        answer.on('data', (chunk: Buffer) => chunks.push(chunk));
        answer.on('end', () => onAnswer(answer.statusCode ?? 502, answer.headers, Buffer.concat(chunks)));
      },
    );
    outgoing.on('error', () => onAnswer(502, {}, Buffer.from('proxy: upstream failed')));
    outgoing.end(body);
  };

  const server = createServer((incoming: IncomingMessage, response: ServerResponse) => {
    const chunks: Buffer[] = [];
    incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
    incoming.on('end', () => {
      const body = Buffer.concat(chunks);
      const path = decodeURIComponent(decodeURIComponent((incoming.url ?? '/').split('?')[0]!));
      const trap = armed?.trap;
      const hit = trap && incoming.method === trap.method && trap.path.test(path);
      if (!hit) {
        pass(incoming, body, (status, headers, answer) => {
          response.writeHead(status, headers);
          response.end(answer);
        });
        return;
      }
      const { kill, sprung } = armed!;
      armed = undefined;
      const die = () => {
        kill();
        sprung();
        response.socket?.destroy();
      };
      if (trap.when === 'after') pass(incoming, body, die);
      else die();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    arm: (trap, kill) => new Promise<void>((sprung) => (armed = { trap, kill, sprung })),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
