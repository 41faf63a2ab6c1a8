import { connect, type Socket } from 'node:net';

/**
 * Opens a TCP connection to `url`'s host and port and writes `head` (request line, headers and
 * the blank line) and then `body`, exactly as given. Resolves with the socket once written, for
 * tests that hold a request half sent.
 */
export function openRawRequest(url: string, head: string, body: Buffer | string = ''): Promise<Socket> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => {
      socket.write(head);
      if (body.length > 0) {
        socket.write(body);
      }
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

/**
 * Sends `head` and then one space every `intervalMs`, a client that trickles its body, until the
 * server answers. Resolves with the first chunk of the response, status line included.
 */
export async function trickleRequest(url: string, head: string, intervalMs = 200): Promise<string> {
  const socket = await openRawRequest(url, head);
  return new Promise((resolve, reject) => {
    const trickle = setInterval(() => socket.write(' '), intervalMs);
    socket.once('data', (chunk: Buffer) => {
      clearInterval(trickle);
      socket.destroy();
      resolve(chunk.toString('utf8'));
    });
    socket.once('error', (error) => {
      clearInterval(trickle);
      reject(error);
    });
  });
}
