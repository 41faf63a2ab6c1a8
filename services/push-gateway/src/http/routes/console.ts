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
  // Browsers request /favicon.ico for pages without an icon link, such as a JSON response opened
  // in a tab. This route sends the console's SVG icon, with the SVG content type.
  app.get('/favicon.ico', async (_request, reply) => reply.sendFile('favicon.svg'));
}
