import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { readProxyHeader } from './proxy-header.js';

/** A loopback server whose sockets go through readProxyHeader, reporting the address and the bytes after. */
async function server(): Promise<{ port: number; results: Promise<{ address: string | null; after: string } | { error: string }>; close(): void }> {
  let report!: (r: { address: string | null; after: string } | { error: string }) => void;
  const results = new Promise<{ address: string | null; after: string } | { error: string }>((r) => (report = r));
  const srv = net.createServer((s) => {
    readProxyHeader(s, 500).then(
      (address) => {
        // Read as the broker does: paused mode, after the header was taken off.
        let after = '';
        s.on('readable', () => {
          for (let c = s.read() as Buffer | null; c; c = s.read() as Buffer | null) after += c.toString();
          if (after.endsWith('END')) report({ address, after });
        });
      },
      (e: Error) => {
        report({ error: e.message });
        s.destroy();
      },
    );
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return { port: (srv.address() as net.AddressInfo).port, results, close: () => srv.close() };
}

describe('readProxyHeader on a real socket', () => {
  let close: (() => void) | null = null;
  afterEach(() => close?.());

  it('takes the header off and leaves the bytes that followed, even split across writes', async () => {
    const s = await server();
    close = s.close;
    const c = net.connect(s.port, '127.0.0.1');
    await new Promise<void>((r) => c.once('connect', () => r()));
    c.write('PROXY TCP4 10.9.8.7 10.0.0.1 4000 1883');
    await new Promise((r) => setTimeout(r, 30));
    c.write('\r\nMQTT-BYTES ');
    await new Promise((r) => setTimeout(r, 30));
    c.write('END');
    expect(await s.results).toEqual({ address: '10.9.8.7', after: 'MQTT-BYTES END' });
    c.destroy();
  });

  it('rejects a connection that starts without the header, or sends nothing in time', async () => {
    const s = await server();
    close = s.close;
    const c = net.connect(s.port, '127.0.0.1', () => c.write(Buffer.from([0x10, 0x0c, 0x00, 0x04])));
    expect(await s.results).toEqual({ error: 'no PROXY header' });
    c.destroy();
    const s2 = await server();
    const idle = net.connect(s2.port, '127.0.0.1');
    expect(await s2.results).toEqual({ error: 'no PROXY header in time' });
    idle.destroy();
    s2.close();
  });
});
