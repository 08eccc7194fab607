/**
 * Rules lists of an account (`/accounts/{account_id}/rules/lists/{list_id}/items`) and their asynchronous bulk
 * operations (`/accounts/{account_id}/rules/lists/bulk_operations/{operation_id}`), as the `cloudflare` SDK calls them
 * (cloudflare/cloudflare-typescript v7 `src/resources/rules/lists/items.ts` and `bulk-operations.ts`: POST appends
 * a bare JSON array of `{ip, comment?}`, PUT replaces every item, DELETE takes `{items:[{id}]}`; all three answer
 * `{operation_id}`; an operation is `pending|running`, then `completed` or `failed`). Shapes: cloudflare/api-schemas
 * `openapi.json` (`lists_*`).
 *
 * - IP items (docs waf/tools/lists/custom-lists, newest version; terraform-provider-cloudflare#7036): IPv4
 *   address or CIDR /8–/32, IPv6 address or CIDR /12–/128. The API stores them normalized: host bits masked,
 *   /32 and /128 dropped, IPv6 compressed lower-case. The api-schemas' "/64 or wider" is older than those sources.
 *   Appending an IP already in the list updates that item instead of adding a second one
 *   (terraform-provider-cloudflare#5854).
 * - A write while another bulk operation of the account is pending answers HTTP 429 (docs
 *   waf/tools/lists/lists-api: "you will receive a 429 HTTP status code"; the SDK's items.ts: "There is a limit of 1
 *   pending bulk operation per account"); the SDK retries 429, so tests use `maxRetries: 0`. A
 *   `concurrentModification` fault on a write route starts such a foreign operation first.
 * - Items change only when a poll of the operation reports `completed`, after `bulkOperationPolls` polls
 *   answered `pending` (first) or `running`, or when a write refused for it (429) shows time passing: real
 *   operations finish in seconds whether or not their client is still there to poll them. Operations fail
 *   with "This list is at the maximum number of items" past 10,000 items per account (docs
 *   `src/content/plans/index.json`, `global_configurations.lists`) or with the message given to
 *   `failNextBulkOperation`. Unknown item ids in a DELETE are ignored when the operation applies.
 * - Cursor pagination (SDK `CursorPaginationAfter`: it sends `result_info.cursors.after` back as `?cursor=` and stops
 *   when there is none): default `per_page` 25 (not documented; small so clients must follow cursors), max 500.
 * - An unknown list or operation is 404 with an emulator-specific code.
 */
import type { Reply, RouteContext } from '../emulator';
import { formatIPv4, formatIPv6, parseIPv4, parseIPv6 } from './addresses';
import {
  CloudflareModule,
  HEX32,
  UNOBSERVED,
  assertId,
  encodeCursor,
  fail,
  intParam,
  isObject,
  newId,
  ok,
  pageAtCursor,
  pathId,
  type ApiError,
  type CloudflareRoute,
  type Grant,
  type Json,
} from './core';

const MAX_LIST_ITEMS_PER_ACCOUNT = 10_000;

export class RulesLists extends CloudflareModule {
  /** Polls of a bulk operation answered `pending`/`running` before one answers `completed` (or `failed`). */
  bulkOperationPolls = 1;

  private readonly lists = new Map<string, Map<string, ListState>>();
  private readonly operations = new Map<string, Map<string, BulkOperation>>();
  private nextFailure: string | undefined;

  routes(): CloudflareRoute[] {
    const items = '/accounts/{account}/rules/lists/{list}/items';
    return [
      { name: 'listItems.list', method: 'GET', template: items, handle: (c) => this.listItemsPage(c) },
      { name: 'listItems.create', method: 'POST', template: items, handle: (c) => this.write(c, 'append') },
      { name: 'listItems.replace', method: 'PUT', template: items, handle: (c) => this.write(c, 'replace') },
      { name: 'listItems.delete', method: 'DELETE', template: items, handle: (c) => this.write(c, 'delete') },
      {
        name: 'bulkOperations.get',
        method: 'GET',
        template: '/accounts/{account}/rules/lists/bulk_operations/{operation}',
        handle: (c) => this.getBulkOperation(c),
      },
    ];
  }

  // --- seeding and inspection ---------------------------------------------------------------------------

  addList(accountId: string, list: { id: string; name: string; kind?: 'ip' }): void {
    assertId(accountId, 'account id');
    assertId(list.id, 'list id');
    this.listsOf(accountId).set(list.id, {
      id: list.id,
      name: list.name,
      kind: list.kind ?? 'ip',
      items: new Map(),
    });
  }

  addListItem(
    accountId: string,
    listId: string,
    item: { ip: string; comment?: string },
  ): Record<string, unknown> {
    const list = this.lists.get(accountId)?.get(listId);
    if (!list) throw new Error(`no list ${listId} in account ${accountId}; call addList first`);
    const added = readNewItem(item, 0);
    list.items = upsertItems(list.items, [added], this.core.now(), () => this.core.nextSeq());
    return listItemToApi([...list.items.values()].find((i) => i.ip === added.ip) as ListItem);
  }

  listItems(accountId: string, listId: string): Array<Record<string, unknown>> {
    const list = this.lists.get(accountId)?.get(listId);
    return list ? [...list.items.values()].sort((a, b) => a.seq - b.seq).map(listItemToApi) : [];
  }

  /** The next bulk operation created ends `failed` with this error, changing nothing. */
  failNextBulkOperation(error: string): void {
    this.nextFailure = error;
  }

  // --- handlers ------------------------------------------------------------------------------------------

  private listsOf(accountId: string): Map<string, ListState> {
    let lists = this.lists.get(accountId);
    if (!lists) this.lists.set(accountId, (lists = new Map()));
    return lists;
  }

  private operationsOf(accountId: string): Map<string, BulkOperation> {
    let ops = this.operations.get(accountId);
    if (!ops) this.operations.set(accountId, (ops = new Map()));
    return ops;
  }

  private findList(ctx: RouteContext, access: Grant): { accountId: string; list: ListState } {
    const accountId = this.core.authorizeAccount(ctx, 'lists', access);
    const list = this.listsOf(accountId).get(pathId(ctx, 'list'));
    if (!list) throw fail(404, UNOBSERVED.listNotFound, 'List not found');
    return { accountId, list };
  }

  private listItemsPage(ctx: RouteContext): Reply {
    const { list } = this.findList(ctx, 'read');
    const q = ctx.url.searchParams;
    const perPage = intParam(q, 'per_page', 25, 500);
    const search = q.get('search')?.toLowerCase();
    const all = [...list.items.values()]
      .filter((item) => !search || item.ip.startsWith(search))
      .sort((a, b) => a.seq - b.seq);
    const page = pageAtCursor(all, q.get('cursor'), perPage);
    const cursors: Json = {};
    const first = page[0];
    const last = page[page.length - 1];
    if (first && all[0] !== first) cursors.before = encodeCursor('before', first.seq);
    if (last && all[all.length - 1] !== last) cursors.after = encodeCursor('after', last.seq);
    return ok(page.map(listItemToApi), { cursors });
  }

  private write(ctx: RouteContext, mode: 'append' | 'replace' | 'delete'): Reply {
    const { accountId, list } = this.findList(ctx, 'edit');
    if (ctx.concurrentModification) this.createOperation(accountId, { background: true });
    this.assertNoPendingOperation(accountId);
    const seq = () => this.core.nextSeq();
    let change: ItemsChange;
    if (mode === 'delete') {
      const ids = new Set(readItemIds(ctx.body));
      change = (items) => new Map([...items].filter(([id]) => !ids.has(id)));
    } else {
      const added = readNewItems(ctx.body);
      change =
        mode === 'append'
          ? (items, now) => upsertItems(items, added, now, seq)
          : (_items, now) => upsertItems(new Map(), added, now, seq);
    }
    const operation = this.createOperation(accountId, { list, change });
    return ok({ operation_id: operation.id });
  }

  private assertNoPendingOperation(accountId: string): void {
    const pending = [...this.operationsOf(accountId).values()].filter(
      (op) => op.status === 'pending' || op.status === 'running',
    );
    if (pending.length > 0) {
      // Operations finish on their own within seconds, polled or not (the client that started one may be gone):
      // each finishes while this request is being refused, so the refused writer's next try can go through.
      // Another writer's operation (background) changes nothing here.
      for (const op of pending) {
        if (op.background) op.status = 'completed';
        else this.finish(accountId, op);
      }
      throw fail(
        429,
        UNOBSERVED.bulkOperationPending,
        'A bulk operation is already in progress for this account. Wait until it completes before retrying.',
      );
    }
  }

  private createOperation(
    accountId: string,
    work: { list?: ListState; change?: ItemsChange; background?: boolean },
  ): BulkOperation {
    const operation: BulkOperation = {
      id: newId(),
      status: 'pending',
      pollsBeforeCompletion: this.bulkOperationPolls,
      polls: 0,
      ...work,
    };
    if (work.change && this.nextFailure !== undefined) {
      operation.forcedFailure = this.nextFailure;
      this.nextFailure = undefined;
    }
    this.operationsOf(accountId).set(operation.id, operation);
    return operation;
  }

  private getBulkOperation(ctx: RouteContext): Reply {
    const accountId = this.core.authorizeAccount(ctx, 'lists', 'read');
    const id = pathId(ctx, 'operation');
    const operation = this.operationsOf(accountId).get(id);
    if (!operation) throw fail(404, UNOBSERVED.operationNotFound, 'Bulk operation not found');
    this.advance(accountId, operation);
    const result: Json = { id: operation.id, status: operation.status };
    if (operation.completed) result.completed = operation.completed;
    if (operation.error) result.error = operation.error;
    return ok(result);
  }

  private advance(accountId: string, operation: BulkOperation): void {
    if (operation.status === 'completed' || operation.status === 'failed') return;
    if (operation.polls < operation.pollsBeforeCompletion) {
      operation.status = operation.polls === 0 ? 'pending' : 'running';
      operation.polls++;
      return;
    }
    this.finish(accountId, operation);
  }

  /** The operation ends: its change applies (or it fails) now. */
  private finish(accountId: string, operation: BulkOperation): void {
    const now = this.core.now();
    operation.completed = now;
    const error = operation.forcedFailure ?? this.applyOperation(accountId, operation, now);
    operation.status = error === undefined ? 'completed' : 'failed';
    if (error !== undefined) operation.error = error;
  }

  /** Applies the operation's change; returns the failure message instead when the account would overflow. */
  private applyOperation(accountId: string, operation: BulkOperation, now: string): string | undefined {
    const { list, change } = operation;
    if (!list || !change) return undefined;
    const items = change(list.items, now);
    const others = [...this.listsOf(accountId).values()].filter((l) => l !== list);
    const total = others.reduce((n, l) => n + l.items.size, items.size);
    if (total > MAX_LIST_ITEMS_PER_ACCOUNT) return 'This list is at the maximum number of items';
    list.items = items;
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------------------------
// Items and operations

interface ListItem {
  id: string;
  ip: string;
  comment?: string;
  created_on: string;
  modified_on: string;
  seq: number;
}

interface ListState {
  id: string;
  name: string;
  kind: 'ip';
  items: Map<string, ListItem>;
}

type ItemsChange = (items: Map<string, ListItem>, now: string) => Map<string, ListItem>;

interface BulkOperation {
  id: string;
  status: 'pending' | 'running' | 'completed' | 'failed';
  pollsBeforeCompletion: number;
  polls: number;
  completed?: string;
  error?: string;
  forcedFailure?: string;
  list?: ListState;
  change?: ItemsChange;
  /** Started by "another writer" (a concurrentModification fault); completes without being polled. */
  background?: boolean;
}

interface NewItem {
  ip: string;
  comment?: string;
}

function listItemToApi(item: ListItem): Json {
  const out: Json = { id: item.id, ip: item.ip };
  if (item.comment !== undefined) out.comment = item.comment;
  out.created_on = item.created_on;
  out.modified_on = item.modified_on;
  return out;
}

function listItemInvalid(message: string): ApiError {
  return fail(400, UNOBSERVED.listItem, message);
}

function readNewItem(raw: unknown, index: number): NewItem {
  if (!isObject(raw)) throw listItemInvalid(`item ${index}: must be an object`);
  for (const other of ['hostname', 'asn', 'redirect']) {
    if (raw[other] !== undefined) {
      throw listItemInvalid(`item ${index}: "${other}" items cannot go in an IP list`);
    }
  }
  if (typeof raw.ip !== 'string') throw listItemInvalid(`item ${index}: "ip" is required`);
  const ip = normalizeListIp(raw.ip);
  if (ip === undefined) {
    throw listItemInvalid(
      `item ${index}: "${raw.ip}" is not an IPv4 address, an IPv4 CIDR /8-/32, an IPv6 address or an IPv6 CIDR /12-/128`,
    );
  }
  if (raw.comment !== undefined && raw.comment !== null && typeof raw.comment !== 'string') {
    throw listItemInvalid(`item ${index}: "comment" must be a string`);
  }
  return typeof raw.comment === 'string' && raw.comment !== '' ? { ip, comment: raw.comment } : { ip };
}

function readNewItems(body: unknown): NewItem[] {
  if (!Array.isArray(body)) throw listItemInvalid('the request body must be a JSON array of items');
  return body.map(readNewItem);
}

function readItemIds(body: unknown): string[] {
  const items = isObject(body) ? body.items : undefined;
  if (!Array.isArray(items) || items.length === 0) {
    throw listItemInvalid('"items" must list the ids to delete');
  }
  return items.map((item, i) => {
    const id = isObject(item) ? item.id : undefined;
    if (typeof id !== 'string' || !HEX32.test(id)) {
      throw listItemInvalid(`items[${i}].id is not a list item id`);
    }
    return id;
  });
}

function upsertItems(items: Map<string, ListItem>, added: NewItem[], now: string, seq: () => number) {
  const next = new Map(items);
  for (const item of added) {
    const existing = [...next.values()].find((i) => i.ip === item.ip);
    if (existing) {
      next.set(existing.id, { ...existing, comment: item.comment, modified_on: now });
    } else {
      const id = newId();
      next.set(id, { id, ...item, created_on: now, modified_on: now, seq: seq() });
    }
  }
  return next;
}

function normalizeListIp(text: string): string | undefined {
  const [address = '', prefix, extra] = text.trim().split('/');
  if (extra !== undefined || (prefix !== undefined && !/^\d{1,3}$/.test(prefix))) return undefined;
  const v4 = parseIPv4(address);
  if (v4 !== undefined) {
    const bits = prefix === undefined ? 32 : Number(prefix);
    if (bits < 8 || bits > 32) return undefined;
    const size = 2 ** (32 - bits);
    const base = formatIPv4(Math.floor(v4 / size) * size);
    return bits === 32 ? base : `${base}/${bits}`;
  }
  const v6 = parseIPv6(address);
  if (v6 === undefined) return undefined;
  const bits = prefix === undefined ? 128 : Number(prefix);
  if (bits < 12 || bits > 128) return undefined;
  const mask = ((1n << BigInt(bits)) - 1n) << BigInt(128 - bits);
  const base = formatIPv6(v6 & mask);
  return bits === 128 ? base : `${base}/${bits}`;
}
