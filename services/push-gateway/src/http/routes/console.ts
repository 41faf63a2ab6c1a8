import { fileURLToPath } from 'node:url';

import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';

/** The console's files; the same path from `src/` and from `dist/`. */
export const CONSOLE_ROOT = fileURLToPath(new URL('../../../public/', import.meta.url));

/** Serves the agent console at `/console/`: static files, no build step. */
export async function registerConsoleRoutes(app: FastifyInstance): Promise<void> {
  await app.register(fastifyStatic, { root: CONSOLE_ROOT, prefix: '/console/', index: 'index.html', cacheControl: true, maxAge: 0 });
  app.get('/console', async (_request, reply) => reply.redirect('/console/'));
  app.get('/', async (_request, reply) => reply.redirect('/console/'));
}
