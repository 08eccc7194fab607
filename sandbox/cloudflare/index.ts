/**
 * A Cloudflare API v4 emulator: DNS records (incl. /batch), Load Balancer pools, Rules IP lists with their
 * asynchronous bulk operations, and token verification, spoken over the real wire protocol so the real
 * `cloudflare` SDK can be pointed at it (`baseURL: emulator.baseUrl`). It shares no code with lib/.
 *
 * The server, authentication, envelopes, rate limiting and pagination helpers are core.ts; each subject of the API
 * is one file (its routes, seeds, validation and wire shapes, with the sources of what it does in its header)
 * registered in MODULES below. A new subject is one file extending CloudflareModule and one line in MODULES; tests
 * reach its seeding methods with `emulator.module(TheModule)`. The methods below are the seeding API the tests and
 * the story have always used.
 */
import { CloudflareCore, type CloudflareEmulatorOptions, type ModuleClass } from './core';
import { DnsRecords, type Plan } from './dns';
import { RulesLists } from './lists';
import { LoadBalancerPools } from './pools';
import { Tokens } from './tokens';

export type { CloudflareEmulatorOptions, Grant, TokenGrants, TokenStatus } from './core';
export type { Plan } from './dns';

/** The subjects the emulator serves, in the order their routes are matched. */
const MODULES: ModuleClass[] = [Tokens, DnsRecords, LoadBalancerPools, RulesLists];

export class CloudflareEmulator extends CloudflareCore {
  private constructor(options: CloudflareEmulatorOptions) {
    super(options, MODULES);
  }

  static async start(options: CloudflareEmulatorOptions = {}): Promise<CloudflareEmulator> {
    const emulator = new CloudflareEmulator(options);
    await emulator.listen();
    return emulator;
  }

  // --- DNS records ---------------------------------------------------------------------------------------

  addZone(zone: { id: string; name: string; plan?: Plan; accountId?: string; recordQuota?: number }): void {
    this.module(DnsRecords).addZone(zone);
  }

  addRecord(
    zoneId: string,
    record: {
      type: string;
      name: string;
      content: string;
      proxied?: boolean;
      ttl?: number;
      comment?: string;
      tags?: string[];
      priority?: number;
    },
  ): Record<string, unknown> {
    return this.module(DnsRecords).addRecord(zoneId, record);
  }

  records(zoneId: string, filter: { name?: string; type?: string } = {}): Array<Record<string, unknown>> {
    return this.module(DnsRecords).records(zoneId, filter);
  }

  // --- Load Balancer pools -------------------------------------------------------------------------------

  addPool(accountId: string, pool: Record<string, unknown>): Record<string, unknown> {
    return this.module(LoadBalancerPools).addPool(accountId, pool);
  }

  pool(accountId: string, poolId: string): Record<string, unknown> | undefined {
    return this.module(LoadBalancerPools).pool(accountId, poolId);
  }

  // --- Rules lists ---------------------------------------------------------------------------------------

  /** Polls of a bulk operation answered `pending`/`running` before one answers `completed` (or `failed`). */
  get bulkOperationPolls(): number {
    return this.module(RulesLists).bulkOperationPolls;
  }

  set bulkOperationPolls(polls: number) {
    this.module(RulesLists).bulkOperationPolls = polls;
  }

  addList(accountId: string, list: { id: string; name: string; kind?: 'ip' }): void {
    this.module(RulesLists).addList(accountId, list);
  }

  addListItem(
    accountId: string,
    listId: string,
    item: { ip: string; comment?: string },
  ): Record<string, unknown> {
    return this.module(RulesLists).addListItem(accountId, listId, item);
  }

  listItems(accountId: string, listId: string): Array<Record<string, unknown>> {
    return this.module(RulesLists).listItems(accountId, listId);
  }

  /** The next bulk operation created ends `failed` with this error, changing nothing. */
  failNextBulkOperation(error: string): void {
    this.module(RulesLists).failNextBulkOperation(error);
  }
}
