/**
 * Reads the PROXY protocol header (core/proxy-protocol.ts) off a new socket before MQTT sees it,
 * and puts back whatever followed it. Only for a listener behind a trusted balancer: the header
 * is believed, so a port that reads it must not be reachable by anyone else.
 */
import type { Socket } from 'node:net';
import { PROXY_V2_MAX, parseProxyHeader } from '../core/proxy-protocol.js';

/**
 * @returns the client's address (null: the balancer's own connection, e.g. LOCAL), or rejects when
 *   the header is missing, malformed or not complete within `timeoutMs` (the caller closes the socket)
 */
export function readProxyHeader(socket: Socket, timeoutMs = 5000): Promise<string | null> {
  return new Promise((resolve, reject) => {
    let buf: Buffer = Buffer.alloc(0);
    const done = (err: Error | null, address: string | null = null, rest?: Buffer): void => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('error', onError);
      socket.off('end', onEnd);
      socket.pause();
      if (err) return reject(err);
      // The MQTT bytes that came with the header go back for the broker to read first.
      if (rest && rest.length > 0) socket.unshift(rest);
      resolve(address);
    };
    const onData = (chunk: Buffer): void => {
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
      const h = parseProxyHeader(buf);
      if (h.status === 'ok') done(null, h.address, buf.subarray(h.length));
      else if (h.status === 'invalid') done(new Error(h.reason));
      else if (buf.length > PROXY_V2_MAX) done(new Error('PROXY header too long'));
    };
    const onError = (e: Error): void => done(e);
    const onEnd = (): void => done(new Error('closed before the PROXY header'));
    const timer = setTimeout(() => done(new Error('no PROXY header in time')), timeoutMs);
    socket.on('data', onData);
    socket.on('error', onError);
    socket.on('end', onEnd);
  });
}
