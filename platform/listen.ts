/** Bind a server, turning EADDRINUSE and friends into a clear error that names the port. */
import type { Server } from 'node:net';
import { VitalsError } from '../core/errors.js';

export function listenOn(server: Server, port: number, host: string, what: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (e: NodeJS.ErrnoException): void => {
      server.off('listening', onListening);
      if (e.code === 'EADDRINUSE') reject(new VitalsError('VTL_ERR_CONFIG', `${what} port ${port} on ${host} is already in use`));
      else if (e.code === 'EACCES') reject(new VitalsError('VTL_ERR_CONFIG', `${what} port ${port} on ${host} needs privileges`));
      else reject(new VitalsError('VTL_ERR_CONFIG', `${what} cannot listen on ${host}:${port}: ${e.code ?? e.message}`));
    };
    const onListening = (): void => {
      server.off('error', onError);
      const addr = server.address();
      resolve(typeof addr === 'object' && addr ? addr.port : port);
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen(port, host);
  });
}
