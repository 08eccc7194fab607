/**
 * The ARM emulator's core: what Azure Resource Manager's front door and the long-running operation machinery do for
 * every resource provider. The providers (apim.ts, nsg.ts, …) bring their routes, seeds and validation and register
 * with the emulator (index.ts); this file knows none of them.
 *
 * Sources: Azure/azure-resource-manager-rpc (RPC), the azure-sdk-for-go test recordings (real traffic, sanitised),
 * Microsoft Learn, and public issues quoting real answers. What was chosen where they are silent:
 * - Headers on every answer (real traffic: azure-sdk-for-go `sdk/resourcemanager/network/armnetwork/testdata/
 *   recordings/TestNetworkSecurityGroupTestSuite.json`): x-ms-request-id, x-ms-correlation-request-id (echoed),
 *   x-ms-routing-request-id `REGION:yyyymmddThhmmssZ:<correlation>`, Cache-Control/Pragma no-cache, Expires -1, and
 *   x-ms-ratelimit-remaining-subscription-reads|writes|deletes counted down from the legacy per-hour budgets (the
 *   recordings show values like 11879; Microsoft Learn "request-limits-and-throttling", 2020 version). A request to a
 *   tenant-level API a provider names (Resource Graph) counts as a tenant read.
 * - Error texts quoted from real traffic: MissingApiVersionParameter and NoRegisteredProviderFound (azure-cli#28496),
 *   ResourceNotFound (…ARMResourceNotFoundFix). From memory, not re-verified: the 401 texts and WWW-Authenticate,
 *   InvalidSubscriptionId / SubscriptionNotFound / ResourceGroupNotFound wording, InvalidResourceType,
 *   MethodNotAllowed and CanceledAndSupersededDueToAnotherOperation. Invented: the throttling messages.
 * - Authentication: ARM answers a missing api-version before it looks at the token (an anonymous GET of
 *   management.azure.com returns MissingApiVersionParameter); a missing header is AuthenticationFailed, a wrong token
 *   InvalidAuthenticationToken, both 401 with a WWW-Authenticate challenge. Then subscription checks, throttling,
 *   authorization (403 before the resource group is looked up, so nothing leaks), then the resource group.
 * - api-versions: each provider lists the versions of its resource types; an unknown one is NoRegisteredProviderFound
 *   naming the resource's location, a malformed one InvalidApiVersionParameter.
 * - Throttling (Microsoft Learn "request-limits-and-throttling"; NRP lock contention: Microsoft Learn, Network RP
 *   troubleshooting): 429 with an integer Retry-After, TooManyRequests / SubscriptionRequestsThrottled, or NRP's
 *   RetryableErrorDueToAnotherOperation (with an empty details array), for the requests throttle() names.
 * - Long-running operations (RPC `v1.0/async-api-reference.md`; NRP's statuses:
 *   Azure/azure-rest-api-specs `specification/network/resource-manager/Microsoft.Network/stable/2025-07-01/
 *   network.json#/definitions/AzureAsyncOperationResult`): a provider answers 201 (create) / 200 (update) with
 *   provisioningState "Updating" (real traffic shows Updating where the spec examples show Succeeded), an absolute
 *   Azure-AsyncOperation URL on this host (…/locations/{loc}/operations/{id}, or …/nfvOperations/{id}; the id is the
 *   PUT's x-ms-request-id, as in azure-powershell#19436) and an integer Retry-After. Polls answer 200 InProgress
 *   `lroPolls` times (with Retry-After), then the terminal status (Succeeded, Failed or Canceled, with the error). The
 *   resource changes state only when its operation ends, which happens on the poll that observes it (or on
 *   settleOperations()). A second write to a resource with an operation in flight may supersede it: the first
 *   operation ends Canceled with CanceledAndSupersededDueToAnotherOperation. Location-based operations
 *   (…/operationResults/{id}) answer 202 until done, then 204 (or the error).
 * - Subscriptions and resource groups exist once a seed names them; a malformed subscription id is
 *   InvalidSubscriptionId. Lists page by `pageSize` (default 2, so clients must follow nextLink, which carries
 *   api-version and $skipToken).
 * - concurrentModification faults: each provider says what "another writer" changes just before the request; the
 *   TEST-NET addresses such writers add come from here (foreignAddress), so they never overlap the list they join.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import {
  Emulator,
  route,
  type EmulatorOptions,
  type Reply,
  type Route,
  type RouteContext,
  type TlsIdentity,
} from '../emulator';
import { parsePrefix, prefixesOverlap, type Prefix } from './addresses';
import {
  ArmFailure,
  GUID,
  checkPutContent,
  header,
  key,
  nrpFailure,
  normalizeLocation,
  resourceTypeOf,
  rgPath,
  type ErrorBody,
} from './wire';

// ---------------------------------------------------------------------------------------------------------------
// Options and constants

export interface ArmCoreOptions extends EmulatorOptions {
  tls: TlsIdentity;
  /** The accepted bearer token (default `sandbox-arm-token`). */
  token?: string;
  /** InProgress poll answers before an operation reaches its terminal status (default 1). */
  lroPolls?: number;
  /** Retry-After on LRO responses and InProgress polls (default 0; real NRP says 3 for rules, 10 for IP Groups). */
  retryAfterSeconds?: number;
  /** Items per list page (default 2). */
  pageSize?: number;
}

export type ThrottleCode =
  'TooManyRequests' | 'RetryableErrorDueToAnotherOperation' | 'SubscriptionRequestsThrottled';

const DEFAULT_TOKEN = 'sandbox-arm-token';
const CLIENT_OBJECT_ID = '5e0c1b7a-2f4d-4c8e-9a61-3b7d2c9e0f14';
export const TENANT_ID = '72f988bf-86f1-41af-91ab-2d7cd011db47';
/** Legacy per-hour budgets behind x-ms-ratelimit-remaining-subscription-* (recordings show values like 11879). */
const RATE_LIMIT_BUDGET = { reads: 11999, writes: 1199, deletes: 14999 };

/** Microsoft.Network's api-versions; a Network resource type that appeared later filters this list. */
// prettier-ignore
export const NETWORK_VERSIONS = [
  '2015-06-15', '2016-03-30', '2016-06-01', '2016-09-01', '2016-12-01', '2017-03-01', '2017-06-01', '2017-08-01',
  '2017-09-01', '2017-10-01', '2017-11-01', '2018-01-01', '2018-02-01', '2018-04-01', '2018-06-01', '2018-07-01',
  '2018-08-01', '2018-10-01', '2018-11-01', '2018-12-01', '2019-02-01', '2019-04-01', '2019-06-01', '2019-07-01',
  '2019-08-01', '2019-09-01', '2019-11-01', '2019-12-01', '2020-03-01', '2020-04-01', '2020-05-01', '2020-06-01',
  '2020-07-01', '2020-08-01', '2020-11-01', '2021-02-01', '2021-03-01', '2021-05-01', '2021-08-01', '2022-01-01',
  '2022-05-01', '2022-07-01', '2022-09-01', '2022-11-01', '2023-02-01', '2023-04-01', '2023-05-01', '2023-06-01',
  '2023-09-01', '2023-11-01', '2024-01-01', '2024-03-01', '2024-05-01', '2024-07-01', '2024-10-01', '2025-01-01',
  '2025-03-01', '2025-05-01', '2025-07-01', '2026-01-01',
];

const SUPPORTED_LOCATIONS =
  'eastus, eastus2, westus, westus2, westus3, centralus, northeurope, westeurope, uksouth, swedencentral, ' +
  'germanywestcentral, francecentral, japaneast, australiaeast, southeastasia, eastasia, canadacentral, brazilsouth';

// ---------------------------------------------------------------------------------------------------------------
// The provider contract

/** A request that passed the front door, as a provider's handler sees it. */
export interface ArmRequest {
  ctx: RouteContext;
  apiVersion: string;
  params: Record<string, string>;
}

/** A route a provider serves. Handlers throw ArmFailure (or a subclass) to answer with an error. */
export interface ArmRoute {
  /** As requests are counted and faults, throttles and failNextOperation() name it, e.g. `securityRule.put`. */
  name: string;
  method: string;
  /** Path template, e.g. `/subscriptions/{subscription}/resourceGroups/{resourceGroup}/…/{rule}`. */
  template: string;
  /** The RBAC action a forbid() refuses, as AuthorizationFailed names it. */
  action: string;
  /** A POST that reads (a query API): authorized as a read and not counted as a write. */
  readOnly?: boolean;
  handle(r: ArmRequest): Reply;
}

/** The api-versions of a namespace's resource types; a rule without `type` covers the namespace's other types. */
export interface ApiVersionRule {
  namespace: string;
  /** Tested against the resource type path, e.g. `networkSecurityGroups/securityRules`. */
  type?: RegExp;
  versions: readonly string[];
}

/** One resource provider (or resource type) of the emulator: its routes, seeds, validation and wire shapes. */
export abstract class ArmProvider {
  constructor(protected readonly core: ArmCore) {}

  abstract routes(): ArmRoute[];

  apiVersions(): ApiVersionRule[] {
    return [];
  }

  /** The location of the resource at or above `lowerPath`, for NoRegisteredProviderFound messages. */
  locationOf(_lowerPath: string): string | undefined {
    return undefined;
  }

  /** The error a Failed operation of `routeName` reports when failNextOperation() gives none. */
  failedOperationError(_routeName: string): ErrorBody | undefined {
    return undefined;
  }

  /** Rows this provider's resources contribute to Azure Resource Graph. */
  graphRows(): Array<Record<string, unknown>> {
    return [];
  }

  /** Paths of tenant-level APIs whose requests count against the tenant read budget. */
  tenantPaths(): RegExp | undefined {
    return undefined;
  }
}

export type ProviderClass<O> = new (core: ArmCore, options: O) => ArmProvider;

// ---------------------------------------------------------------------------------------------------------------
// Long-running operations

export type TerminalStatus = 'Succeeded' | 'Failed' | 'Canceled';
export type OperationKind = 'operations' | 'nfvOperations';

interface PlannedOutcome {
  status: TerminalStatus;
  error?: ErrorBody;
}

interface Operation {
  id: string;
  name: string;
  subscription: string;
  location: string;
  kind: OperationKind;
  status: 'InProgress' | TerminalStatus;
  pollsLeft: number;
  /** Retry-After on InProgress answers. */
  retryAfter: number;
  planned: PlannedOutcome;
  error?: ErrorBody;
  apply(status: TerminalStatus): void;
}

/** What a provider tells startOperation() about the operation its write started. */
export interface OperationStart {
  id: string;
  /** e.g. PutSecurityRuleOperation, as the superseding error names it. */
  name: string;
  /** The route that started it: failNextOperation() plans outcomes per route. */
  routeName: string;
  kind: OperationKind;
  subscription: string;
  location: string;
  /** InProgress polls (default lroPolls). */
  polls?: number;
  /** Retry-After on InProgress polls (default retryAfterSeconds). */
  retryAfter?: number;
}

interface Forbid {
  scope: string;
  access: 'read' | 'write' | 'all';
}

// ---------------------------------------------------------------------------------------------------------------
// The core

export abstract class ArmCore extends Emulator {
  protected override readonly readOnlyRoutes: ReadonlySet<string>;
  readonly lroPolls: number;
  readonly retryAfterSeconds: number;
  private readonly token: string;
  private readonly pageSize: number;
  private readonly providers: ArmProvider[];
  private readonly armRoutes: ArmRoute[];
  private readonly routeTable: Route[];

  private readonly subscriptions = new Map<string, string>();
  private readonly resourceGroups = new Map<string, string>();
  private readonly operations = new Map<string, Operation>();
  private readonly plannedOutcomes = new Map<string, PlannedOutcome[]>();
  private readonly throttles = new Map<string, Array<{ retryAfter: number; code: ThrottleCode }>>();
  private forbids: Forbid[] = [];
  private readonly requestsUsed = { reads: 0, writes: 0, deletes: 0 };
  private concurrentWrites = 0;
  /** notFound() only sees the path; authenticate() runs just before it for the same request and keeps this. */
  private lastApiVersion = '';
  /** commonHeaders() runs just before the handler of the same request; Resource Graph quotes it in its errors. */
  private correlationId = '';

  /** `providers` builds the emulator's providers over this core, in registration order. */
  protected constructor(options: ArmCoreOptions, providers: (core: ArmCore) => ArmProvider[]) {
    super(options);
    this.token = options.token ?? DEFAULT_TOKEN;
    this.lroPolls = options.lroPolls ?? 1;
    this.retryAfterSeconds = options.retryAfterSeconds ?? 0;
    this.pageSize = options.pageSize ?? 2;
    this.providers = providers(this);
    this.armRoutes = [...this.providers.flatMap((p) => p.routes()), ...this.operationRoutes()];
    this.routeTable = this.armRoutes.map((r) =>
      route(r.name, r.method, r.template, (ctx) => this.run(r, ctx)),
    );
    this.readOnlyRoutes = new Set(this.armRoutes.filter((r) => r.readOnly).map((r) => r.name));
  }

  /** The registered provider of this class. */
  provider<P extends ArmProvider>(kind: abstract new (...args: never[]) => P): P {
    const found = this.providers.find((p) => p instanceof kind);
    if (!found) throw new Error(`no ${kind.name} is registered with this emulator`);
    return found as P;
  }

  // ----- seeding shared by every provider ------------------------------------------------------------------------

  /** 403 AuthorizationFailed for requests on resources at or under `scopeId`. */
  forbid(scopeId: string, access: 'read' | 'write' | 'all' = 'all'): void {
    this.forbids.push({ scope: key(scopeId.replace(/\/+$/, '')), access });
  }

  /** Lifts every forbid() at exactly `scopeId`. */
  permit(scopeId: string): void {
    const scope = key(scopeId.replace(/\/+$/, ''));
    this.forbids = this.forbids.filter((f) => f.scope !== scope);
  }

  /** The next long-running operation started on `route` ends Failed or Canceled. */
  failNextOperation(
    route: string,
    status: 'Failed' | 'Canceled',
    error?: { code: string; message: string },
  ): void {
    const queue = this.plannedOutcomes.get(route) ?? [];
    queue.push({ status, error: error ?? this.defaultOperationError(route, status) });
    this.plannedOutcomes.set(route, queue);
  }

  /** 429 with Retry-After and ARM's envelope for the next `times` requests on `route`. */
  throttle(
    route: string,
    retryAfterSeconds: number,
    times = 1,
    code: ThrottleCode = 'TooManyRequests',
  ): void {
    const queue = this.throttles.get(route) ?? [];
    for (let i = 0; i < times; i++) queue.push({ retryAfter: retryAfterSeconds, code });
    this.throttles.set(route, queue);
  }

  /** Ends every operation still in progress with its planned outcome, as time passing would. */
  settleOperations(): void {
    for (const op of this.operations.values()) if (op.status === 'InProgress') this.settle(op);
  }

  // ----- services for providers ----------------------------------------------------------------------------------

  registerSubscription(subscription: string): void {
    if (!this.subscriptions.has(key(subscription))) this.subscriptions.set(key(subscription), subscription);
  }

  registerResourceGroup(subscription: string, resourceGroup: string): void {
    this.registerSubscription(subscription);
    const rgKey = key(rgPath(subscription, resourceGroup));
    if (!this.resourceGroups.has(rgKey)) this.resourceGroups.set(rgKey, resourceGroup);
  }

  /** The resource group's name as it was created. */
  requireResourceGroup(subscription: string, resourceGroup: string): string {
    const name = this.resourceGroups.get(key(rgPath(subscription, resourceGroup)));
    if (name === undefined) {
      throw new ArmFailure(
        404,
        'ResourceGroupNotFound',
        `Resource group '${resourceGroup}' could not be found.`,
      );
    }
    return name;
  }

  /** Every subscription a seed named, as spelled there. */
  subscriptionIds(): string[] {
    return [...this.subscriptions.values()];
  }

  /** True when a forbid() covers `path` for this kind of access. */
  isForbidden(path: string, access: 'read' | 'write'): boolean {
    const target = key(path.replace(/\/+$/, ''));
    return this.forbids.some(
      (f) =>
        (f.access === 'all' || f.access === access) &&
        (target === f.scope || target.startsWith(`${f.scope}/`)),
    );
  }

  /** The correlation id of the request being handled (Resource Graph quotes it in its errors). */
  get lastCorrelationId(): string {
    return this.correlationId;
  }

  /** Every row the providers contribute to Azure Resource Graph, in registration order. */
  graphRows(): Array<Record<string, unknown>> {
    return this.providers.flatMap((p) => p.graphRows());
  }

  /** A TEST-NET address of the list's family that overlaps nothing in it (what a concurrent writer adds). */
  foreignAddress(list: string[]): string | undefined {
    if (list.length === 0) return undefined;
    const existing = list.map(parsePrefix).filter((p): p is Prefix => p !== undefined);
    const family = existing[0]?.family ?? 4;
    const n = this.nextConcurrentWriter();
    const candidate = family === 4 ? `198.51.100.${n}` : `2001:db8::${n.toString(16)}`;
    const parsed = parsePrefix(candidate) as Prefix;
    return existing.some((p) => prefixesOverlap(p, parsed)) ? undefined : candidate;
  }

  /** 10…209, in turn: the host part of what the next concurrent writer adds. */
  nextConcurrentWriter(): number {
    return 10 + (this.concurrentWrites++ % 200);
  }

  /** One page of a list answer; nextLink carries api-version and an opaque $skipToken. */
  page(r: ArmRequest, items: Array<Record<string, unknown>>): Record<string, unknown> {
    const token = r.ctx.url.searchParams.get('$skipToken');
    const start = token ? Number(Buffer.from(token, 'base64url').toString('utf8')) || 0 : 0;
    const body: Record<string, unknown> = { value: items.slice(start, start + this.pageSize) };
    if (start + this.pageSize < items.length) {
      const next = new URL(`${this.url}${r.ctx.url.pathname}`);
      next.searchParams.set('api-version', r.apiVersion);
      next.searchParams.set('$skipToken', Buffer.from(String(start + this.pageSize)).toString('base64url'));
      body.nextLink = next.toString();
    }
    return body;
  }

  // ----- long-running operations ---------------------------------------------------------------------------------

  /** Registers the operation a write started; `apply` changes the resource when it ends. */
  startOperation(start: OperationStart, apply: (status: TerminalStatus) => void): void {
    const planned = this.plannedOutcomes.get(start.routeName)?.shift() ?? { status: 'Succeeded' };
    const { routeName: _routeName, polls, retryAfter, ...op } = start;
    this.operations.set(start.id, {
      ...op,
      subscription: key(start.subscription),
      status: 'InProgress',
      pollsLeft: polls ?? this.lroPolls,
      retryAfter: retryAfter ?? this.retryAfterSeconds,
      planned,
      apply,
    });
  }

  /** The operation `opId` still running ends Canceled, superseded by `byOpId`. */
  supersede(opId: string, byOpId: string): void {
    const op = this.operations.get(opId);
    if (!op || op.status !== 'InProgress') return;
    op.status = 'Canceled';
    op.error = {
      code: 'CanceledAndSupersededDueToAnotherOperation',
      message: `Operation ${op.name} (${op.id}) was canceled and superseded by operation ${op.name} (${byOpId}).`,
    };
  }

  operationUrl(r: ArmRequest, location: string, kind: string, opId: string): string {
    const subscription = r.params.subscription ?? '';
    return (
      `${this.url}/subscriptions/${subscription}/providers/Microsoft.Network/locations/${location}/${kind}/${opId}` +
      `?api-version=${encodeURIComponent(r.apiVersion)}`
    );
  }

  lroHeaders(
    r: ArmRequest,
    opId: string,
    location: string,
    kind: OperationKind,
    retryAfter = this.retryAfterSeconds,
  ): Record<string, string> {
    return {
      'Azure-AsyncOperation': this.operationUrl(r, location, kind, opId),
      'Azure-AsyncNotification': 'Enabled',
      'Retry-After': String(retryAfter),
      'x-ms-request-id': opId,
      'x-ms-arm-service-request-id': randomUUID(),
    };
  }

  private operationRoutes(): ArmRoute[] {
    const locations = '/subscriptions/{subscription}/providers/Microsoft.Network/locations/{location}';
    const action = 'Microsoft.Network/locations/operations/read';
    return [
      {
        name: 'operation.get',
        method: 'GET',
        template: `${locations}/operations/{operation}`,
        action,
        handle: (r) => this.getOperation(r, 'operations'),
      },
      {
        name: 'operation.get',
        method: 'GET',
        template: `${locations}/nfvOperations/{operation}`,
        action,
        handle: (r) => this.getOperation(r, 'nfvOperations'),
      },
      {
        name: 'operationResult.get',
        method: 'GET',
        template: `${locations}/operationResults/{operation}`,
        action,
        handle: (r) => this.getOperationResult(r),
      },
    ];
  }

  private settle(op: Operation): void {
    op.status = op.planned.status;
    op.error = op.planned.error;
    op.apply(op.status);
  }

  private findOperation(r: ArmRequest, kind: OperationKind): Operation {
    const op = this.operations.get((r.params.operation ?? '').toLowerCase());
    const matches =
      op !== undefined &&
      op.kind === kind &&
      op.subscription === key(r.params.subscription ?? '') &&
      op.location === normalizeLocation(r.params.location ?? '');
    if (!matches) {
      throw nrpFailure(404, 'NotFound', `Operation ${r.params.operation} not found.`);
    }
    return op;
  }

  /** Counts down the poll budget; true while the operation is still running. */
  private advance(op: Operation): boolean {
    if (op.status !== 'InProgress') return false;
    if (op.pollsLeft > 0) {
      op.pollsLeft--;
      return true;
    }
    this.settle(op);
    return false;
  }

  private getOperation(r: ArmRequest, kind: OperationKind): Reply {
    const op = this.findOperation(r, kind);
    if (this.advance(op)) {
      return {
        status: 200,
        body: { status: 'InProgress' },
        headers: { 'Retry-After': String(op.retryAfter) },
      };
    }
    const body: Record<string, unknown> = { status: op.status };
    if (op.error) body.error = { ...op.error, details: [] };
    return { status: 200, body };
  }

  private getOperationResult(r: ArmRequest): Reply {
    const op = this.findOperation(r, 'operations');
    if (this.advance(op)) {
      return {
        status: 202,
        headers: {
          Location: this.operationUrl(r, op.location, 'operationResults', op.id),
          'Retry-After': String(op.retryAfter),
        },
      };
    }
    if (op.status === 'Succeeded') return { status: 204 };
    const error = op.error ?? GENERIC_OPERATION_ERROR;
    return nrpFailure(400, error.code, error.message).reply();
  }

  private defaultOperationError(routeName: string, status: 'Failed' | 'Canceled'): ErrorBody {
    if (status === 'Canceled') return { code: 'Canceled', message: 'Operation was canceled.' };
    for (const p of this.providers) {
      const error = p.failedOperationError(routeName);
      if (error) return error;
    }
    return GENERIC_OPERATION_ERROR;
  }

  // ----- Emulator hooks ------------------------------------------------------------------------------------------

  protected routes(): Route[] {
    return this.routeTable;
  }

  protected override authenticate(req: IncomingMessage, url: URL): Reply | undefined {
    this.lastApiVersion = url.searchParams.get('api-version') ?? '';
    try {
      this.checkApiVersion(url);
      this.checkToken(req);
      return undefined;
    } catch (error) {
      if (error instanceof ArmFailure) return error.reply();
      throw error;
    }
  }

  protected override commonHeaders(req: IncomingMessage): Record<string, string> {
    const correlation = header(req, 'x-ms-correlation-request-id') ?? randomUUID();
    const stamp = new Date()
      .toISOString()
      .replace(/[-:]/g, '')
      .replace(/\.\d+Z$/, 'Z');
    const headers: Record<string, string> = {
      'cache-control': 'no-cache',
      pragma: 'no-cache',
      expires: '-1',
      'strict-transport-security': 'max-age=31536000; includeSubDomains',
      'x-content-type-options': 'nosniff',
      'x-ms-request-id': randomUUID(),
      'x-ms-correlation-request-id': correlation,
      'x-ms-routing-request-id': `WESTEUROPE:${stamp}:${correlation}`,
    };
    this.correlationId = correlation;
    const method = (req.method ?? 'GET').toUpperCase();
    if (this.providers.some((p) => p.tenantPaths()?.test(req.url ?? ''))) {
      // A tenant-level query is a tenant read, whatever its method.
      const left = Math.max(0, RATE_LIMIT_BUDGET.reads - this.requestsUsed.reads++);
      headers['x-ms-ratelimit-remaining-tenant-reads'] = String(left);
      return headers;
    }
    const bucket = method === 'GET' ? 'reads' : method === 'DELETE' ? 'deletes' : 'writes';
    const left = Math.max(0, RATE_LIMIT_BUDGET[bucket] - this.requestsUsed[bucket]++);
    headers[`x-ms-ratelimit-remaining-subscription-${bucket}`] = String(left);
    return headers;
  }

  protected notFound(method: string, path: string): Reply {
    if (this.routeTable.some((r) => r.pattern.test(path))) {
      return new ArmFailure(
        405,
        'MethodNotAllowed',
        `The requested resource does not support http method '${method}'.`,
      ).reply();
    }
    const type = resourceTypeOf(path);
    if (type) {
      return new ArmFailure(
        400,
        'InvalidResourceType',
        `The resource type '${type.type}' could not be found in the namespace '${type.namespace}' for api version ` +
          `'${this.lastApiVersion}'.`,
      ).reply();
    }
    return new ArmFailure(404, 'NotFound', `The requested path '${path}' was not found.`).reply();
  }

  protected badJson(): Reply {
    return new ArmFailure(
      400,
      'InvalidRequestContent',
      "The request content was invalid and could not be deserialized: 'Unexpected character encountered while " +
        "parsing value. Path '', line 1, position 1.'.",
    ).reply();
  }

  // ----- the front door ------------------------------------------------------------------------------------------

  private run(armRoute: ArmRoute, ctx: RouteContext): Reply {
    try {
      const request: ArmRequest = {
        ctx,
        apiVersion: ctx.url.searchParams.get('api-version') ?? '',
        params: ctx.params,
      };
      this.guard(armRoute, request);
      return armRoute.handle(request);
    } catch (error) {
      if (error instanceof ArmFailure) return error.reply();
      throw error;
    }
  }

  /** ARM front door: subscription, throttling, authorization, resource group, request content. */
  private guard(armRoute: ArmRoute, request: ArmRequest): void {
    const { subscription, resourceGroup } = request.params;
    if (subscription !== undefined) this.checkSubscription(subscription);
    this.checkThrottle(armRoute.name, request);
    this.checkAuthorization(armRoute, request);
    if (subscription !== undefined && resourceGroup !== undefined) {
      this.requireResourceGroup(subscription, resourceGroup);
    }
    if (request.ctx.method === 'PUT') checkPutContent(request.ctx);
  }

  private checkApiVersion(url: URL): void {
    const version = url.searchParams.get('api-version');
    if (!version) {
      throw new ArmFailure(
        400,
        'MissingApiVersionParameter',
        'The api-version query parameter (?api-version=) is required for all requests.',
      );
    }
    const target = resourceTypeOf(url.pathname);
    if (!target) return;
    const supported = this.supportedVersions(target);
    if (!supported) return;
    if (!/^\d{4}-\d{2}-\d{2}(-[a-z]+)?$/i.test(version)) {
      throw new ArmFailure(
        400,
        'InvalidApiVersionParameter',
        `The api-version '${version}' is invalid. The supported versions are '${supported.join(',')}'.`,
      );
    }
    if (!supported.includes(version)) {
      throw new ArmFailure(
        400,
        'NoRegisteredProviderFound',
        `No registered resource provider found for location '${this.locationForMessage(url.pathname)}' and API ` +
          `version '${version}' for type '${target.type}'. The supported api-versions are '${supported.join(', ')}'. ` +
          `The supported locations are '${SUPPORTED_LOCATIONS}'.`,
      );
    }
  }

  /** The most specific rule of the namespace: one whose type matches, else the namespace's catch-all. */
  private supportedVersions(target: { namespace: string; type: string }): readonly string[] | undefined {
    const rules = [...this.providers.flatMap((p) => p.apiVersions()), ...CORE_API_VERSIONS].filter(
      (rule) => rule.namespace.toLowerCase() === target.namespace.toLowerCase(),
    );
    return (rules.find((rule) => rule.type?.test(target.type)) ?? rules.find((rule) => !rule.type))?.versions;
  }

  private checkToken(req: IncomingMessage): void {
    const authorization = header(req, 'authorization');
    const challenge = (description: string) => ({
      'WWW-Authenticate':
        `Bearer authorization_uri="https://login.windows.net/", error="invalid_token", ` +
        `error_description="${description}"`,
      'x-ms-failure-cause': 'gateway',
    });
    if (authorization === undefined) {
      throw new ArmFailure(
        401,
        'AuthenticationFailed',
        "Authentication failed. The 'Authorization' header is missing.",
        {
          headers: challenge("The authentication failed because of missing 'Authorization' header."),
        },
      );
    }
    const m = /^Bearer\s+(\S+)$/i.exec(authorization.trim());
    if (!m) {
      throw new ArmFailure(
        401,
        'AuthenticationFailed',
        "Authentication failed. The 'Authorization' header is provided in an invalid format.",
        { headers: challenge("The 'Authorization' header is provided in an invalid format.") },
      );
    }
    if (m[1] !== this.token) {
      throw new ArmFailure(401, 'InvalidAuthenticationToken', 'The access token is invalid.', {
        headers: challenge('The access token is invalid.'),
      });
    }
  }

  private checkSubscription(subscription: string): void {
    if (!GUID.test(subscription)) {
      throw new ArmFailure(
        400,
        'InvalidSubscriptionId',
        `The provided subscription identifier '${subscription}' is malformed or invalid.`,
      );
    }
    if (!this.subscriptions.has(key(subscription))) {
      throw new ArmFailure(
        404,
        'SubscriptionNotFound',
        `The subscription '${subscription}' could not be found.`,
      );
    }
  }

  private checkThrottle(routeName: string, request: ArmRequest): void {
    const next = this.throttles.get(routeName)?.shift();
    if (!next) return;
    const kind = request.ctx.method === 'GET' ? 'read' : request.ctx.method === 'DELETE' ? 'delete' : 'write';
    const message =
      next.code === 'RetryableErrorDueToAnotherOperation'
        ? `Operation on resource ${request.ctx.url.pathname} is not allowed because another operation is in progress ` +
          `on this or a dependent resource. Retry the request after ${next.retryAfter} seconds.`
        : `Number of '${kind}' requests for subscription '${request.params.subscription ?? ''}' actor ` +
          `'${CLIENT_OBJECT_ID}' exceeded. Please try again after '${next.retryAfter}' seconds after additional ` +
          `tokens are available. Refer to https://aka.ms/arm-throttling`;
    const details = next.code === 'RetryableErrorDueToAnotherOperation' ? { details: [] } : {};
    throw new ArmFailure(429, next.code, message, {
      ...details,
      headers: { 'Retry-After': String(next.retryAfter) },
    });
  }

  private checkAuthorization(armRoute: ArmRoute, request: ArmRequest): void {
    const access = request.ctx.method === 'GET' || armRoute.readOnly ? 'read' : 'write';
    if (!this.isForbidden(request.ctx.url.pathname, access)) return;
    const scope = request.ctx.url.pathname.replace(/\/+$/, '');
    throw new ArmFailure(
      403,
      'AuthorizationFailed',
      `The client '${CLIENT_OBJECT_ID}' with object id '${CLIENT_OBJECT_ID}' does not have authorization to perform ` +
        `action '${armRoute.action}' over scope '${scope}' or the scope is invalid. If access was recently ` +
        `granted, please refresh your credentials.`,
    );
  }

  private locationForMessage(path: string): string {
    const lower = key(path);
    for (const p of this.providers) {
      const location = p.locationOf(lower);
      if (location !== undefined) return location;
    }
    return /\/locations\/([^/]+)\//i.exec(path)?.[1] ?? '*';
  }
}

const GENERIC_OPERATION_ERROR: ErrorBody = { code: 'InternalServerError', message: 'An error occurred.' };

/**
 * The operation endpoints' versions: nfvOperations answer from 2019-09-01 on (they appeared with IP Groups), and
 * every other Network type falls back to NETWORK_VERSIONS (so an unknown Network type with a known version is
 * InvalidResourceType, not NoRegisteredProviderFound).
 */
const CORE_API_VERSIONS: ApiVersionRule[] = [
  {
    namespace: 'Microsoft.Network',
    type: /nfvoperations$/i,
    versions: NETWORK_VERSIONS.filter((v) => v >= '2019-09-01'),
  },
  { namespace: 'Microsoft.Network', versions: NETWORK_VERSIONS },
];
