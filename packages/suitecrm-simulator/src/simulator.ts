import { SuiteCrmApp } from './app.js';
import { OAuthServer, type LoginUser, type OAuthClient } from './auth.js';
import type { RelationRow, Row } from './database.js';
import { Faults } from './faults.js';
import { applySeed, DEMO_SEED, RECORDED_SEED, type SeedData } from './seeds.js';
import { SimulatorHttp, type HttpOptions, type RecordedRequest } from './server.js';

/** The OAuth2 clients of the recordings; their secrets are the simulator's own. */
export const RECORDED_CLIENT_CREDENTIALS: OAuthClient = {
  id: 'af3dee61-af6d-e692-bd28-6b1313197422',
  secret: 'simulator-client-secret-0123456789',
  grantType: 'client_credentials',
  userId: '1',
};
export const RECORDED_PASSWORD_CLIENT: OAuthClient = {
  id: 'b67f1565-807c-d3f6-f12e-6b131313a7e0',
  secret: 'simulator-password-client-secret-0123',
  grantType: 'password',
  userId: '1',
};
export const RECORDED_ADMIN_LOGIN: LoginUser = { userName: 'admin', password: 'simulator-admin-password', userId: '1' };

export interface SimulatorOptions extends HttpOptions {
  /** Clock of tokens and record timestamps, in ms; `Date.now` by default. */
  clock?: () => number;
  /** `recorded` (the records behind the recordings), `demo`, `empty`, or seed data. */
  seed?: 'recorded' | 'demo' | 'empty' | SeedData;
  /** OAuth2 clients; the two recorded ones by default. */
  clients?: OAuthClient[];
  users?: LoginUser[];
  /** Custom fields per module, e.g. `{ Calls: ['ai_summary_c'] }`, listed in the field metadata. */
  customFields?: Record<string, readonly string[]>;
  /** How long tokens really stay valid, in s; responses always give 3600. */
  tokenLifetimeSeconds?: number;
}

export interface SuiteCrmSimulator {
  /** Site root to use as SUITECRM_URL, e.g. `http://127.0.0.1:40123`. */
  url: string;
  port: number;
  app: SuiteCrmApp;
  oauth: OAuthServer;
  faults: Faults;
  /** Every request so far, oldest first. */
  requests: RecordedRequest[];
  /** Rows of a module table, soft-deleted ones included. */
  rows(module: string): Row[];
  relationRows(table: string): readonly RelationRow[];
  close(): Promise<void>;
}

/** Starts a SuiteCRM 7.14 simulator on 127.0.0.1 (a free port unless `port` is given). */
export async function startSuiteCrmSimulator(options: SimulatorOptions = {}): Promise<SuiteCrmSimulator> {
  const clock = options.clock ?? Date.now;
  const app = new SuiteCrmApp({ clock, ...(options.customFields === undefined ? {} : { customFields: options.customFields }) });
  const oauth = new OAuthServer({ clock, ...(options.tokenLifetimeSeconds === undefined ? {} : { tokenLifetimeSeconds: options.tokenLifetimeSeconds }) });
  for (const client of options.clients ?? [RECORDED_CLIENT_CREDENTIALS, RECORDED_PASSWORD_CLIENT]) {
    oauth.addClient(client);
  }
  for (const user of options.users ?? [RECORDED_ADMIN_LOGIN]) {
    oauth.addUser(user);
  }

  const seed = options.seed ?? 'recorded';
  if (seed === 'recorded') {
    applySeed(app, RECORDED_SEED, clock());
  } else if (seed === 'demo') {
    applySeed(app, DEMO_SEED, clock());
  } else if (seed !== 'empty') {
    applySeed(app, seed, clock());
  }

  const faults = new Faults(clock);
  const http = new SimulatorHttp(app, oauth, faults, clock, options);
  const port = await http.listen();
  const host = options.host ?? '127.0.0.1';
  return {
    url: `http://${host}:${port}`,
    port,
    app,
    oauth,
    faults,
    requests: http.requests,
    rows: (module) => app.db.rows(module),
    relationRows: (table) => app.db.relationRows(table),
    close: () => http.close(),
  };
}
