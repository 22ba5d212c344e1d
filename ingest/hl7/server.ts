/**
 * The MLLP listeners (plain TCP, and TLS with optional client certificates) and one session per
 * gateway connection. A session handles one message at a time and stops reading its socket
 * while a message waits for the bus, so a slow bus slows the gateway instead of filling memory;
 * the ACK is written only after the message's records are on the bus.
 */
import { readFile } from 'node:fs/promises';
import net from 'node:net';
import tls from 'node:tls';
import { VitalsError } from '../../core/errors.js';
import type { PayloadLimits } from '../../core/payload.js';
import type { Context } from '../../platform/context.js';
import { listenOn } from '../../platform/listen.js';
import type { Logger } from '../../platform/log.js';
import { counter, gauge } from '../../platform/metrics.js';
import type { RegistryView } from '../../platform/registry-view.js';
import type { PublishBatcher } from '../publish-batcher.js';
import { identifyGateway, type Peer } from './identity.js';
import { MllpFramer, mllpFrame } from './mllp-framer.js';
import { createReceiver, type Receipt } from './receiver.js';

export interface Hl7Listeners {
  /** null when the plain MLLP listener is off. */
  port: number | null;
  /** null when MLLP over TLS is off. */
  tlsPort: number | null;
  close(): Promise<void>;
}

export function hl7Enabled(config: Context['config']): boolean {
  return config.hl7Port !== null || (config.hl7TlsCert !== null && config.hl7TlsKey !== null);
}

async function readPem(file: string, what: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (e) {
    throw new VitalsError('VTL_ERR_CONFIG', `HL7 TLS ${what} ${file} cannot be read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

export async function startHl7(ctx: Context, registry: RegistryView, out: PublishBatcher, limits: PayloadLimits, log: Logger): Promise<Hl7Listeners> {
  const { config, metrics, clock } = ctx;
  const hl7Log = log.child({ proto: 'hl7' });
  const receive = createReceiver({ registry, out, clock, limits, log: hl7Log, metrics });
  const refusedTotal = counter(metrics, 'vitals_hl7_connections_refused_total', 'MLLP connections closed by ingest, by reason', ['reason']);
  const connections = gauge(metrics, 'vitals_hl7_connections', 'Open, authenticated MLLP connections');
  const byGateway = new Map<string, Set<net.Socket>>();

  const serve = (socket: net.Socket, peer: Peer): void => {
    socket.setNoDelay(true); // an ACK is a few hundred bytes: Nagle would hold it (PERF_NOTES)
    socket.on('error', (e) => hl7Log.debug({ err: e.message }, 'mllp socket error'));
    const id = identifyGateway(registry, peer);
    if ('refused' in id) {
      refusedTotal.inc({ reason: id.refused });
      hl7Log.warn({ reason: id.refused }, 'mllp connection refused');
      socket.destroy();
      return;
    }
    const { gatewayId } = id;
    let set = byGateway.get(gatewayId);
    if (!set) byGateway.set(gatewayId, (set = new Set()));
    set.add(socket);
    connections.inc();
    socket.once('close', () => {
      connections.dec();
      set.delete(socket);
      if (set.size === 0) byGateway.delete(gatewayId);
    });

    const framer = new MllpFramer(config.hl7MaxFrameBytes);
    const queue: Buffer[] = [];
    let busy = false;
    const drop = (reason: string): void => {
      refusedTotal.inc({ reason });
      hl7Log.warn({ gatewayId, reason }, 'mllp connection closed');
      socket.destroy();
    };
    // A frame must finish within hl7FrameTimeoutMs of its start, however slowly its bytes trickle
    // in (a stuck or hostile peer holding a half frame); idle time between frames is normal.
    let frameTimer: NodeJS.Timeout | null = null;
    const watchFrame = (): void => {
      if (framer.partial && !frameTimer) {
        frameTimer = setTimeout(() => {
          frameTimer = null;
          // Not the peer's fault while we hold its socket for the bus: the clock restarts after.
          if (!busy) drop('half_framed');
        }, config.hl7FrameTimeoutMs);
      } else if (!framer.partial && frameTimer) {
        clearTimeout(frameTimer);
        frameTimer = null;
      }
    };
    socket.once('close', () => {
      if (frameTimer) clearTimeout(frameTimer);
    });
    const pump = async (): Promise<void> => {
      busy = true;
      while (queue.length > 0 && !socket.destroyed) {
        const frame = queue.shift() as Buffer;
        let receipt: Receipt;
        try {
          receipt = await receive(gatewayId, frame);
        } catch (e) {
          // Not on the bus: no ACK. The gateway resends on its next connection.
          hl7Log.error({ gatewayId, err: (e as Error).message }, 'bus did not accept; closing so the gateway resends');
          drop('bus_unavailable');
          return;
        }
        if (!socket.destroyed) socket.write(mllpFrame(receipt.ack));
      }
      busy = false;
      if (socket.destroyed) return;
      watchFrame();
      socket.resume();
    };
    socket.on('data', (chunk: Buffer) => {
      const r = framer.push(chunk);
      if (r.error) return drop(r.error);
      watchFrame();
      if (r.frames.length === 0) return;
      queue.push(...r.frames);
      if (!busy) {
        socket.pause();
        void pump();
      }
    });
  };

  const opened: net.Server[] = [];
  const closeAll = async (): Promise<void> => {
    for (const set of byGateway.values()) for (const s of set) s.destroy();
    await Promise.all(opened.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  };
  try {
    let port: number | null = null;
    if (config.hl7Port !== null) {
      const server = net.createServer({ noDelay: true }, (s) => serve(s, { address: s.remoteAddress ?? '', certificate: null }));
      opened.push(server);
      port = await listenOn(server, config.hl7Port, config.host, 'HL7 MLLP');
    }
    let tlsPort: number | null = null;
    if (config.hl7TlsCert && config.hl7TlsKey) {
      const [cert, key, ca] = await Promise.all([readPem(config.hl7TlsCert, 'certificate'), readPem(config.hl7TlsKey, 'key'), config.hl7TlsCa ? readPem(config.hl7TlsCa, 'CA') : null]);
      let server: tls.Server;
      try {
        // With a CA, gateways may present a client certificate; without one they fall back to the allow-list.
        server = tls.createServer({ cert, key, ...(ca ? { ca, requestCert: true, rejectUnauthorized: false } : {}), minVersion: 'TLSv1.2' }, (s) => {
          const pc = ca ? s.getPeerCertificate() : null;
          const presented = pc && Object.keys(pc).length > 0 ? pc : null;
          const cn = presented?.subject?.CN;
          serve(s, { address: s.remoteAddress ?? '', certificate: presented ? { cn: Array.isArray(cn) ? '' : (cn ?? ''), verified: s.authorized } : null });
        });
      } catch (e) {
        throw new VitalsError('VTL_ERR_CONFIG', `HL7 TLS certificate, key or CA is not usable: ${(e as Error).message}`);
      }
      server.on('tlsClientError', (err) => hl7Log.debug({ err: err.message }, 'mllp tls handshake failed'));
      opened.push(server);
      tlsPort = await listenOn(server, config.hl7TlsPort, config.host, 'HL7 MLLP TLS');
    }
    // A revoked or re-registered gateway loses its connections at once.
    registry.onChange((deviceId, rec) => {
      const set = byGateway.get(deviceId);
      if (!set) return;
      hl7Log.info({ gatewayId: deviceId }, rec ? 'gateway changed; disconnecting' : 'gateway revoked; disconnecting');
      for (const s of set) s.destroy();
    });
    hl7Log.info({ port, tlsPort, host: config.host }, 'mllp listening');
    return { port, tlsPort, close: closeAll };
  } catch (e) {
    await closeAll();
    throw e;
  }
}
