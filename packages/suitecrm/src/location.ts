import { SuiteCrmError, SuiteCrmErrorCode } from './errors.js';

/** Location of the V8 API of one SuiteCRM, worked out from SUITECRM_URL. */
export interface ApiLocation {
  /** Scheme, host and port. */
  origin: string;
  /** Path of the site root, without a trailing slash: `` or `/crm`. */
  sitePath: string;
  /**
   * API path prefixes to try in order, e.g. `/Api` (SuiteCRM 7) then `/legacy/Api` (SuiteCRM 8,
   * whose V8 API is the bundled SuiteCRM 7 under `/legacy`). The first whose token endpoint
   * returns JSON is used from then on.
   */
  candidates: string[];
}

/**
 * Reads SUITECRM_URL. It may be the site root of SuiteCRM 7 or 8 (both prefixes are tried), the
 * `/legacy` folder of SuiteCRM 8, or the API itself (`…/Api` or `…/Api/V8`).
 */
export function locateApi(url: string): ApiLocation {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (error) {
    throw new SuiteCrmError(SuiteCrmErrorCode.CONFIG_INVALID, 'SUITECRM_URL is not a URL', { cause: error, retryable: false, requestSent: false });
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new SuiteCrmError(SuiteCrmErrorCode.CONFIG_INVALID, 'SUITECRM_URL must start with http:// or https://', { retryable: false, requestSent: false });
  }
  const path = parsed.pathname.replace(/\/+$/, '').replace(/\/index\.php$/i, '');
  const origin = parsed.origin;

  const api = /^(.*)\/Api(?:\/V8)?$/i.exec(path);
  if (api !== null) {
    const before = api[1] ?? '';
    return { origin, sitePath: before.replace(/\/legacy$/i, ''), candidates: [`${before}/Api`] };
  }
  if (/\/legacy$/i.test(path)) {
    return { origin, sitePath: path.replace(/\/legacy$/i, ''), candidates: [`${path}/Api`] };
  }
  return { origin, sitePath: path, candidates: [`${path}/Api`, `${path}/legacy/Api`] };
}

/** True when the chosen prefix is SuiteCRM 8's legacy API, whose web UI uses other record links. */
export function isSuiteCrm8(prefix: string): boolean {
  return /\/legacy\/Api$/i.test(prefix);
}
