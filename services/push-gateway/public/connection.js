// The console's side of the gateway protocol (docs/push-gateway.md): one socket, the cursor of
// the last frame seen, and reconnection with that cursor, so the gateway replays what the socket
// missed (or sends a snapshot when the gap is too old).

const SUBPROTOCOL = 'cti.v1';
const TOKEN_PROTOCOL_PREFIX = 'cti.token.';

/** Close codes after which reconnecting cannot help. */
const FINAL_CLOSE_CODES = new Map([
  [4001, 'token_expired'],
  [4009, 'invalid_frames'],
  [4029, 'rate_limited'],
]);

const MAX_BACKOFF_MS = 30_000;

export class Connection {
  #token;
  #handlers;
  #socket = null;
  #cursor = null;
  #attempt = 0;
  #timer = null;
  #stopped = false;

  /**
   * @param {string} token agent token
   * @param {{ onFrame(frame: object): void, onStatus(status: string): void, onEnd(reason: string): void }} handlers
   */
  constructor(token, handlers) {
    this.#token = token;
    this.#handlers = handlers;
  }

  start() {
    this.#stopped = false;
    this.#open();
  }

  stop() {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#socket?.close(1000, 'signed out');
    this.#socket = null;
  }

  /** Sends a frame; returns false while the socket is not open. */
  send(frame) {
    if (this.#socket?.readyState !== WebSocket.OPEN) {
      return false;
    }
    this.#socket.send(JSON.stringify(frame));
    return true;
  }

  /** Uses a fresh token for the next reconnect and hands it to the open socket. */
  renew(token) {
    this.#token = token;
    this.send({ type: 'token', token });
  }

  #open() {
    const url = new URL('/ws', window.location.href);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    if (this.#cursor !== null) {
      url.searchParams.set('resume', `CALLS:${this.#cursor.CALLS},CRM:${this.#cursor.CRM}`);
    }
    this.#handlers.onStatus(this.#attempt === 0 ? 'connecting' : 'reconnecting');
    const socket = new WebSocket(url, [SUBPROTOCOL, TOKEN_PROTOCOL_PREFIX + this.#token]);
    this.#socket = socket;
    let opened = false;

    socket.addEventListener('open', () => {
      opened = true;
      this.#attempt = 0;
      this.#handlers.onStatus('online');
    });
    socket.addEventListener('message', (message) => {
      let frame;
      try {
        frame = JSON.parse(message.data);
      } catch {
        return;
      }
      this.#track(frame);
      this.#handlers.onFrame(frame);
    });
    socket.addEventListener('close', (event) => {
      if (this.#socket !== socket || this.#stopped) {
        return;
      }
      this.#socket = null;
      const final = FINAL_CLOSE_CODES.get(event.code);
      if (final !== undefined) {
        this.#handlers.onEnd(final);
        return;
      }
      if (!opened) {
        // The browser hides why an upgrade was refused; the REST API tells whether the token is the reason.
        void this.#checkToken().then((valid) => (valid ? this.#retry() : this.#handlers.onEnd('token_rejected')));
        return;
      }
      this.#retry();
    });
  }

  #retry() {
    this.#handlers.onStatus('reconnecting');
    this.#attempt += 1;
    const ceiling = Math.min(MAX_BACKOFF_MS, 1000 * 2 ** Math.min(this.#attempt, 5));
    // Jitter spreads the reconnects of a whole contact centre after a gateway restart.
    const delay = ceiling / 2 + Math.random() * (ceiling / 2);
    this.#timer = setTimeout(() => this.#open(), delay);
  }

  async #checkToken() {
    try {
      const response = await fetch('/v1/me', { headers: { authorization: `Bearer ${this.#token}` } });
      return response.status !== 401;
    } catch {
      return true;
    }
  }

  /** Keeps the highest sequence seen per stream, the cursor a reconnect resumes from. */
  #track(frame) {
    if (frame.type === 'snapshot') {
      this.#cursor = { ...frame.cursor };
    } else if (frame.type === 'recovered') {
      this.#cursor = { ...(frame.recovered ? frame.cursor : frame.snapshot.cursor) };
    } else if (frame.type === 'event' && this.#cursor !== null) {
      this.#cursor[frame.stream] = Math.max(this.#cursor[frame.stream] ?? 0, frame.seq);
    }
  }
}
