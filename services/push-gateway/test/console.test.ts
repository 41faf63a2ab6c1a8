import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { Harness } from './harness.js';

describe('console routes', () => {
  let harness: Harness;

  beforeAll(async () => {
    harness = await Harness.start();
  });

  afterAll(async () => {
    await harness.close();
  });

  it('serves the favicon at the root', async () => {
    const response = await fetch(`${harness.url}/favicon.ico`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('image/svg+xml');
    expect(response.headers.get('content-security-policy')).toContain("default-src 'self'");
    expect(await response.text()).toContain('<svg');
  });

  it('serves the console favicon', async () => {
    const response = await fetch(`${harness.url}/console/favicon.svg`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('image/svg+xml');
    expect(await response.text()).toContain('<svg');
  });

  it('links the favicon from the console', async () => {
    const page = await (await fetch(`${harness.url}/console/`)).text();
    expect(page).toContain('<link rel="icon" href="favicon.svg" type="image/svg+xml" />');
  });
});
