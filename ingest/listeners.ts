/**
 * The transports devices reach the broker on: plain MQTT (always), MQTT over TLS (when a
 * certificate and key are configured) and MQTT over WebSocket (when a port is configured).
 * Every transport ends in `broker.handle(stream)`, so auth, ACL, validation and backpressure
 * are the same whichever way a device comes in.
 */
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import tls from 'node:tls';
import type { Duplex } from 'node:stream';
import type { Aedes } from 'aedes';
import { WebSocketServer, createWebSocketStream } from 'ws';
import { VitalsError } from '../core/errors.js';
import type { Config } from '../platform/config.js';
import type { Logger } from '../platform/log.js';
import { listenOn } from '../platform/listen.js';
import type { ConnectionGuard } from './conn-guard.js';
import { readProxyHeader } from './proxy-header.js';

export interface Listeners {
  mqttPort: number;
  /** null when TLS is not configured. */
  tlsPort: number | null;
  /** null when WebSocket is not configured. */
  wsPort: number | null;
  /** Stop accepting connections (existing ones are closed by the broker). */
  close(): Promise<void>;
}

/** Frame overhead allowed on top of the largest payload before a WebSocket message is refused outright. */
const WS_FRAME_SLACK = 64 * 1024;

async function readPem(file: string, what: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (e) {
    throw new VitalsError('VTL_ERR_CONFIG', `MQTT TLS ${what} ${file} cannot be read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

function closeServer(s: net.Server | null): Promise<void> {
  return new Promise((resolve) => (s ? s.close(() => resolve()) : resolve()));
}

export async function startListeners(broker: Aedes, config: Config, log: Logger, guard: ConnectionGuard): Promise<Listeners> {
  /** Every transport: the per-address admission first, then aedes, then the byte guard (after aedes' reader). */
  const accept = (stream: Duplex, address: string, req?: http.IncomingMessage): void => {
    if (!guard.admit(address)) {
      stream.destroy();
      return;
    }
    broker.handle(stream, req);
    guard.watch(stream, address);
  };
  const opened: net.Server[] = [];
  let wss: WebSocketServer | null = null;
  const closeAll = async (): Promise<void> => {
    wss?.close();
    await Promise.all(opened.map((s) => closeServer(s)));
  };
  try {
    // TCP_NODELAY: a PUBACK is a few bytes; Nagle would hold it for tens of ms (PERF_NOTES).
    const tcp = net.createServer({ noDelay: true }, (socket) => {
      if (!config.mqttProxyProtocol) return accept(socket, socket.remoteAddress ?? '');
      // Behind the balancer the socket's peer is the balancer: the header names the device's address.
      readProxyHeader(socket).then(
        (address) => accept(socket, address ?? socket.remoteAddress ?? ''),
        (e: Error) => {
          log.debug({ err: e.message }, 'MQTT connection without a valid PROXY header closed');
          socket.destroy();
        },
      );
    });
    opened.push(tcp);
    const mqttPort = await listenOn(tcp, config.mqttPort, config.host, 'MQTT');

    let tlsPort: number | null = null;
    if (config.mqttTlsCert && config.mqttTlsKey) {
      const [cert, key, ca] = await Promise.all([
        readPem(config.mqttTlsCert, 'certificate'),
        readPem(config.mqttTlsKey, 'key'),
        config.mqttTlsCa ? readPem(config.mqttTlsCa, 'client CA') : Promise.resolve(null),
      ]);
      // With a client CA, a certificate is asked for but not required (tokens stay valid beside it);
      // one that is presented must chain to the CA, else the socket is closed before MQTT starts.
      const mtls = ca ? { ca, requestCert: true, rejectUnauthorized: false } : {};
      const onTls = (socket: tls.TLSSocket): void => {
        if (ca && socket.getPeerCertificate()?.subject && !socket.authorized) {
          log.warn({ reason: String(socket.authorizationError) }, 'mqtt client certificate refused');
          guard.close(socket, 'client_cert_invalid');
          return;
        }
        accept(socket, socket.remoteAddress ?? '');
      };
      let server: tls.Server;
      try {
        server = tls.createServer({ cert, key, noDelay: true, minVersion: 'TLSv1.2', ...mtls }, onTls);
      } catch (e) {
        throw new VitalsError('VTL_ERR_CONFIG', `MQTT TLS certificate or key is not usable: ${(e as Error).message}`);
      }
      // A failed handshake never reaches the broker: it is a transport event, not a device.
      server.on('tlsClientError', (err) => log.debug({ err: err.message }, 'mqtt tls handshake failed'));
      opened.push(server);
      tlsPort = await listenOn(server, config.mqttTlsPort, config.host, 'MQTT TLS');
    }

    let wsPort: number | null = null;
    if (config.mqttWsPort !== null) {
      const server = http.createServer((_req, res) => {
        res.statusCode = 426;
        res.end('MQTT over WebSocket: upgrade required\n');
      });
      opened.push(server);
      wss = new WebSocketServer({ server, maxPayload: config.maxPayloadBytes + WS_FRAME_SLACK, perMessageDeflate: false });
      wss.on('connection', (ws, req) => {
        ws.on('error', (err) => log.debug({ err: err.message }, 'mqtt websocket error'));
        const stream = createWebSocketStream(ws);
        stream.on('error', () => undefined); // reported by aedes through the client's own error handling
        accept(stream, req.socket.remoteAddress ?? '', req);
      });
      server.on('connection', (s: net.Socket) => s.setNoDelay(true));
      wsPort = await listenOn(server, config.mqttWsPort, config.host, 'MQTT WebSocket');
    }
    return { mqttPort, tlsPort, wsPort, close: closeAll };
  } catch (e) {
    await closeAll();
    throw e;
  }
}
