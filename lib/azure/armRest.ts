import type { TokenCredential } from '@azure/core-auth';
import {
  bearerTokenAuthenticationPolicy,
  createDefaultHttpClient,
  createHttpHeaders,
  createPipelineFromOptions,
  createPipelineRequest,
  type HttpClient,
  type Pipeline,
  type PipelinePolicy,
} from '@azure/core-rest-pipeline';

/** A policy and where it goes, as the Azure SDK clients take it (`additionalPolicies`). */
export interface AdditionalPolicy {
  policy: PipelinePolicy;
  position: 'perCall' | 'perRetry';
}

/**
 * Resource Manager calls for which no Node.js 20 SDK fits (Resource Graph, App Service site config), on the
 * Azure SDK's own pipeline: the same bearer-token policy (HTTPS only), retries and throttling as the SDKs.
 * Bodies are sent and returned as raw JSON, so a read-modify-write keeps every field it does not touch.
 */

export interface ArmResponse {
  status: number;
  headers: Record<string, string>;
  body: unknown;
}

export interface ArmRequest {
  apiVersion: string;
  body?: unknown;
  headers?: Record<string, string>;
  query?: Record<string, string>;
}

export interface ArmRestClient {
  send(method: 'GET' | 'PUT' | 'PATCH' | 'POST', path: string, request: ArmRequest): Promise<ArmResponse>;
}

/** A failed call, shaped like the SDKs' RestError (statusCode, code), so callers treat both alike. */
export class ArmRestError extends Error {
  constructor(
    message: string,
    readonly statusCode: number,
    readonly code: string | undefined,
  ) {
    super(message);
    this.name = 'ArmRestError';
  }
}

export interface ArmRestOptions {
  endpoint: string;
  credential: TokenCredential;
  retryOptions?: { maxRetries?: number; retryDelayInMs?: number; maxRetryDelayInMs?: number };
  /** Policies added as the SDK clients take them (run budget, per-host limit). */
  additionalPolicies?: AdditionalPolicy[];
}

/** ARM errors are `{error:{code,message}}`; App Service's are `{Code, Message}`. */
function errorOf(body: unknown): { code?: string; message?: string } {
  const record = (value: unknown) =>
    typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {};
  const outer = record(body);
  const inner = record(outer.error);
  const code = inner.code ?? outer.Code ?? outer.code;
  const message = inner.message ?? outer.Message ?? outer.message;
  return {
    code: typeof code === 'string' ? code : undefined,
    message: typeof message === 'string' ? message : undefined,
  };
}

export function createArmRestClient(options: ArmRestOptions): ArmRestClient {
  const endpoint = options.endpoint.replace(/\/+$/, '');
  const pipeline: Pipeline = createPipelineFromOptions({ retryOptions: options.retryOptions });
  for (const { policy, position } of options.additionalPolicies ?? []) {
    pipeline.addPolicy(policy, position === 'perRetry' ? { afterPhase: 'Retry' } : {});
  }
  pipeline.addPolicy(
    bearerTokenAuthenticationPolicy({
      credential: options.credential,
      scopes: `${/^https:\/\/management\./.test(endpoint) ? endpoint : 'https://management.azure.com'}/.default`,
    }),
  );
  const httpClient: HttpClient = createDefaultHttpClient();

  return {
    async send(method, path, request) {
      const url = new URL(`${endpoint}${path}`);
      url.searchParams.set('api-version', request.apiVersion);
      for (const [key, value] of Object.entries(request.query ?? {})) url.searchParams.set(key, value);
      const headers = createHttpHeaders({ Accept: 'application/json', ...request.headers });
      if (request.body !== undefined) headers.set('Content-Type', 'application/json; charset=utf-8');
      const response = await pipeline.sendRequest(
        httpClient,
        createPipelineRequest({
          url: url.toString(),
          method,
          headers,
          body: request.body === undefined ? undefined : JSON.stringify(request.body),
        }),
      );
      let body: unknown = undefined;
      if (response.bodyAsText) {
        try {
          body = JSON.parse(response.bodyAsText);
        } catch {
          throw new ArmRestError(
            `${method} ${path}: the response is not JSON`,
            response.status,
            'InvalidResponse',
          );
        }
      }
      if (response.status >= 400) {
        const { code, message } = errorOf(body);
        throw new ArmRestError(message ?? `${method} ${path} failed`, response.status, code);
      }
      return { status: response.status, headers: response.headers.toJSON(), body };
    },
  };
}
