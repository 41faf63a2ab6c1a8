/** Added response time per request, in ms, by route template and module. */
export type LatencyModel = (route: string, module: string | undefined) => number;

// Medians measured against the real SuiteCRM 7.14.6 (2-vCPU VM, tiny database, new TCP
// connection per request), from the recordings' README.
const RECORDED_MEDIANS_MS = {
  token: 16.7,
  list: 17.5,
  users: 14.7,
  create: 33.0,
};

// Spread of the recorded p90 around the median: p90/median was 1.09 to 1.10, which is a
// log-normal sigma of about 0.07.
const SIGMA = 0.07;

function gaussian(random: () => number): number {
  const u = Math.max(random(), Number.EPSILON);
  const v = random();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

/**
 * Latency like the recorded SuiteCRM's: log-normal around the measured medians (17.5 ms for a
 * lookup, 33 ms for a create). `scale` multiplies every value, e.g. 3 for a CRM on a busy server.
 */
export function recordedLatency(options: { scale?: number; random?: () => number } = {}): LatencyModel {
  const scale = options.scale ?? 1;
  const random = options.random ?? Math.random;
  return (route, module) => {
    let median = RECORDED_MEDIANS_MS.list;
    if (route === 'POST access_token') {
      median = RECORDED_MEDIANS_MS.token;
    } else if (route === 'POST module') {
      median = RECORDED_MEDIANS_MS.create;
    } else if (module === 'Users') {
      median = RECORDED_MEDIANS_MS.users;
    }
    return median * scale * Math.exp(SIGMA * gaussian(random));
  };
}

/** The same latency for every request. */
export function fixedLatency(ms: number): LatencyModel {
  return () => ms;
}
