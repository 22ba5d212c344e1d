/**
 * The batched socket writes on a real loopback TCP connection: frames written over several turns
 * within the window leave in one system write, in order; a release writes at once; a socket the
 * batcher does not hold writes every turn (the cost the batcher removes).
 */
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WriteBatcher } from './write-batch.js';

interface Pair {
  sender: net.Socket;
  received: () => string;
  /** Calls into the socket's write path (`_write` and `_writev`): one system write each. */
  writes: () => number;
  close(): void;
}

async function pair(): Promise<Pair> {
  let got = '';
  const server = net.createServer((s) => s.on('data', (d) => (got += d.toString())));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as net.AddressInfo;
  const sender = net.connect(port, '127.0.0.1');
  await new Promise<void>((r) => sender.once('connect', r));
  let writes = 0;
  const write = sender._write.bind(sender);
  const writev = sender._writev?.bind(sender);
  sender._write = (...a: Parameters<typeof write>) => {
    writes++;
    write(...a);
  };
  if (writev) {
    sender._writev = (...a: Parameters<typeof writev>) => {
      writes++;
      writev(...a);
    };
  }
  return {
    sender,
    received: () => got,
    writes: () => writes,
    close: () => {
      sender.destroy();
      server.close();
    },
  };
}

const turn = (): Promise<void> => new Promise((r) => setImmediate(r));
const settle = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('WriteBatcher', () => {
  const open: Pair[] = [];
  afterEach(() => {
    for (const p of open.splice(0)) p.close();
  });
  const frames = Array.from({ length: 20 }, (_, i) => `frame-${i};`);

  it('without it, a frame written each turn is a system write each', async () => {
    const p = await pair();
    open.push(p);
    for (const f of frames) {
      p.sender.write(f);
      await turn();
    }
    await settle(20);
    expect(p.writes()).toBe(frames.length);
    expect(p.received()).toBe(frames.join(''));
  });

  it('frames written over many turns within the window leave in one write, in order', async () => {
    const p = await pair();
    open.push(p);
    const b = new WriteBatcher<net.Socket>(80);
    for (const f of frames) {
      b.hold(p.sender);
      p.sender.write(f);
      await turn();
    }
    expect(p.writes()).toBe(0);
    await settle(150);
    expect(p.writes()).toBe(1);
    expect(p.received()).toBe(frames.join(''));
  });

  it('release writes what is held at once, and the next frame starts a new window', async () => {
    const p = await pair();
    open.push(p);
    const b = new WriteBatcher<net.Socket>(10_000);
    b.hold(p.sender);
    p.sender.write('vitals;');
    p.sender.write('score;');
    p.sender.write('alert;');
    b.release(p.sender);
    expect(p.writes()).toBe(1);
    await settle(20);
    expect(p.received()).toBe('vitals;score;alert;');
    b.hold(p.sender);
    p.sender.write('next;');
    await settle(20);
    expect(p.received()).toBe('vitals;score;alert;');
    b.releaseAll();
    await settle(20);
    expect(p.received()).toBe('vitals;score;alert;next;');
  });

  it('a window of 0 holds nothing', async () => {
    const p = await pair();
    open.push(p);
    const b = new WriteBatcher<net.Socket>(0);
    b.hold(p.sender);
    p.sender.write('now;');
    expect(p.writes()).toBe(1);
  });
});
