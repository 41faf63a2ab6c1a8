// A minimal AMI server for the parse benchmark, run as a child process so the clients measured
// have the bench process to themselves. It accepts any Login, sends its response with the first events
// of the load capture in the same write (as a busy Asterisk does), then sends the rest of the
// events as fast as the socket takes them, and ends with a marker event.
import { readFileSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';

const [, , capturePath, repeatText, sameReadText] = process.argv;
if (capturePath === undefined) {
  throw new Error('usage: blast-server.ts CAPTURE.ami REPEAT SAME_READ_EVENTS');
}
const repeat = Number(repeatText ?? '20');
const sameRead = Number(sameReadText ?? '50');

// The events of the capture: everything after the login response, up to the Logoff response.
const text = readFileSync(capturePath, 'latin1');
const loginEnd = text.indexOf('\r\n\r\n', text.indexOf('Response: Success')) + 4;
const goodbye = text.indexOf('Response: Goodbye');
const events = text.slice(loginEnd, goodbye === -1 ? text.length : goodbye);
const perCopy = events.split('\r\n\r\n').filter((item) => item.startsWith('Event:')).length;
const boundary = (() => {
  let at = 0;
  for (let count = 0; count < sameRead; count += 1) {
    at = events.indexOf('\r\n\r\n', at) + 4;
  }
  return at;
})();
const first = events.slice(0, boundary);
const payload = Buffer.from(events.slice(boundary) + events.repeat(repeat - 1) + 'Event: UserEvent\r\nPrivilege: user,all\r\nUserEvent: BenchDone\r\n\r\n', 'latin1');

async function blast(socket: Socket, actionId: string | undefined): Promise<void> {
  const login = `Response: Success\r\n${actionId === undefined ? '' : `ActionID: ${actionId}\r\n`}Message: Authentication accepted\r\n\r\n`;
  socket.write(login + first);
  for (let start = 0; start < payload.length; start += 65_536) {
    if (!socket.write(payload.subarray(start, start + 65_536))) {
      await new Promise((resolve) => socket.once('drain', resolve));
    }
  }
}

const server = createServer((socket) => {
  socket.on('error', () => undefined);
  socket.write('Asterisk Call Manager/11.0.0\r\n');
  let received = '';
  let started = false;
  socket.on('data', (chunk: Buffer) => {
    received += chunk.toString('latin1');
    if (started || !/action: *login/i.test(received) || !received.includes('\r\n\r\n')) {
      return;
    }
    started = true;
    void blast(socket, /actionid: *([^\r\n]+)/i.exec(received)?.[1]);
  });
});
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  process.send?.({ port: typeof address === 'object' && address !== null ? address.port : 0, events: perCopy * repeat + 1, sameRead });
});
process.on('disconnect', () => process.exit(0));
