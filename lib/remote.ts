/**
 * What the reconciler needs to know about a failed call to Azure or Cloudflare, read from the SDKs'
 * error objects by shape (Azure `RestError`: statusCode/code; Cloudflare `APIError`: status/errors[]).
 */
export interface RemoteFailure {
  status?: number;
  code?: string;
  message: string;
  /** The request never got an HTTP answer (refused, reset, timed out, DNS). */
  network: boolean;
}

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'REQUEST_SEND_ERROR',
]);

function field(value: unknown, key: string): unknown {
  return typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[key] : undefined;
}

function networkCode(error: unknown): string | undefined {
  for (let e: unknown = error, depth = 0; e && depth < 5; e = field(e, 'cause'), depth++) {
    const code = field(e, 'code');
    if (typeof code === 'string' && NETWORK_CODES.has(code)) return code;
    // The Cloudflare SDK's connection errors carry no code; their class says what happened.
    const kind = (e as object).constructor?.name;
    if (kind === 'APIConnectionError' || kind === 'APIConnectionTimeoutError') return kind;
  }
  return undefined;
}

export function remoteFailure(error: unknown): RemoteFailure {
  const status = field(error, 'statusCode') ?? field(error, 'status');
  const cfErrors = field(error, 'errors');
  const cfFirst = Array.isArray(cfErrors) ? (cfErrors[0] as unknown) : undefined;
  const cfCode = field(cfFirst, 'code');
  const cfMessage = field(cfFirst, 'message');
  const code = typeof cfCode === 'number' ? String(cfCode) : field(error, 'code');
  const net = networkCode(error);
  // Cloudflare puts the specific reason in an error_chain under a general one (1004 "DNS Validation Error").
  const chain = field(cfFirst, 'error_chain');
  const reasons = Array.isArray(chain)
    ? chain.flatMap((c: unknown) => {
        const m = field(c, 'message');
        const k = field(c, 'code');
        return typeof m === 'string' ? [typeof k === 'number' ? `${k}: ${m}` : m] : [];
      })
    : [];
  const message =
    typeof cfMessage === 'string'
      ? reasons.length > 0
        ? `${cfMessage} (${reasons.join('; ')})`
        : cfMessage
      : error instanceof Error
        ? error.message.split('\n')[0]!
        : String(error);
  return {
    status: typeof status === 'number' ? status : undefined,
    code: typeof code === 'string' ? code : net,
    message,
    network: net !== undefined && typeof status !== 'number',
  };
}

/** One line: `HTTP 404 ResourceNotFound: The Resource … was not found.` */
export function describeFailure(failure: RemoteFailure): string {
  if (failure.network) return `unreachable (${failure.code ?? 'network error'}): ${failure.message}`;
  const head = [failure.status !== undefined ? `HTTP ${failure.status}` : undefined, failure.code]
    .filter(Boolean)
    .join(' ');
  return head ? `${head}: ${failure.message}` : failure.message;
}

/** True when the error is an HTTP answer with this status. */
export function hasStatus(error: unknown, status: number): boolean {
  return remoteFailure(error).status === status;
}

/** What to do about a failed call, by status: the second half of a one-line message. */
export function hintFor(failure: RemoteFailure, service: 'Azure' | 'Cloudflare'): string {
  if (failure.network) {
    return service === 'Azure'
      ? 'check azure.resourceManagerEndpoint / RECONCILER_ARM_ENDPOINT and the network'
      : 'check cloudflare.baseUrl / CLOUDFLARE_BASE_URL and the network';
  }
  if (service === 'Cloudflare' && failure.code === '7003')
    return 'check the zone or account ID in the configuration';
  switch (failure.status) {
    case 401:
      return service === 'Azure'
        ? 'the Azure credential was refused: check the managed identity (AZURE_CLIENT_ID) or az login'
        : 'the Cloudflare token was refused: check CLOUDFLARE_API_TOKEN';
    case 403:
      return service === 'Azure'
        ? 'the identity lacks permission on this resource: grant the role docs/deploy.md names for this target type'
        : 'the token lacks a permission for this zone or account (DNS records need Zone → DNS → Edit)';
    case 404:
      return 'check the ID in the configuration';
    case 429:
      return 'throttled: the next run retries';
    default:
      return failure.status !== undefined && failure.status >= 500
        ? 'a server error: the next run retries'
        : '';
  }
}
