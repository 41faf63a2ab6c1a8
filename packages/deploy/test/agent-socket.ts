import { SUBPROTOCOL, TOKEN_SUBPROTOCOL_PREFIX, type EventFrame, type ServerFrame } from '@cti/push-gateway';
import { waitFor } from '@cti/testing';
import WebSocket from 'ws';

/** Mints an agent token from a gateway with an API key of its key file, as an SSO bridge does. */
export async function mintToken(gateway: string, apiKey: string, agent: { agentId: string; pbx: string; extensions: readonly string[] }): Promise<string> {
  const response = await fetch(new URL('/v1/agent-tokens', gateway), {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': apiKey },
    body: JSON.stringify(agent),
  });
  if (response.status !== 201) {
    throw new Error(`minting a token for ${agent.agentId} failed with ${response.status}: ${await response.text()}`);
  }
  return ((await response.json()) as { token: string }).token;
}

/** An agent's WebSocket to one gateway, with every frame it received, in order. */
export class AgentSocket {
  readonly frames: ServerFrame[] = [];
  readonly agentId: string;
  readonly extension: string;
  readonly gateway: string;
  readonly #socket: WebSocket;

  private constructor(agentId: string, extension: string, gateway: string, socket: WebSocket) {
    this.agentId = agentId;
    this.extension = extension;
    this.gateway = gateway;
    this.#socket = socket;
    socket.on('message', (data) => this.frames.push(JSON.parse(data.toString()) as ServerFrame));
  }

  /** Mints a token for one extension, connects, and resolves once the snapshot arrived. */
  static async open(gateway: string, apiKey: string, agent: { agentId: string; pbx: string; extension: string }): Promise<AgentSocket> {
    const token = await mintToken(gateway, apiKey, { agentId: agent.agentId, pbx: agent.pbx, extensions: [agent.extension] });
    const socket = new WebSocket(new URL('/ws', gateway.replace(/^http/, 'ws')), [SUBPROTOCOL, `${TOKEN_SUBPROTOCOL_PREFIX}${token}`]);
    const opened = new AgentSocket(agent.agentId, agent.extension, gateway, socket);
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('error', reject);
    });
    // The gateway sends the snapshot once it subscribed to the extension's live subjects.
    await opened.waitFor((frame) => frame.type === 'snapshot', 'the snapshot');
    return opened;
  }

  /** Returns the events received, in order. */
  events(): EventFrame['event'][] {
    return this.frames.flatMap((frame) => (frame.type === 'event' ? [frame.event] : []));
  }

  /** Waits for a frame that passes the check, and returns it. */
  waitFor(check: (frame: ServerFrame) => boolean, description: string, timeoutMs = 20_000): Promise<ServerFrame> {
    return waitFor(() => this.frames.find(check), `${this.agentId}: ${description}`, { timeoutMs, intervalMs: 10 });
  }

  send(frame: unknown): void {
    this.#socket.send(JSON.stringify(frame));
  }

  close(): void {
    this.#socket.close(1000);
  }
}
