import type { NetworkManagementClient } from '@azure/arm-network';
import type Cloudflare from 'cloudflare';
import type { z } from 'zod';
import type { ArmRestClient } from '../azure/armRest';
import type { AddressSelector } from '../config/fields';
import type { PlanContext, TargetPlan } from '../plan/types';

/**
 * The one interface every target type implements (docs/design/product.md §4): read the actual state, plan the
 * difference (a pure function returning data, see lib/plan/), apply a plan. Guards and ordering live in the engine.
 * A target type is one folder of lib/targets/ and one line of lib/targets/registry.ts
 * (docs/design/adding-a-target-type.md).
 */

export type ApplyOutcome =
  { status: 'applied' } | { status: 'lost-race'; error: string } | { status: 'failed'; error: string };

export interface ApplyItem<T, A, W> {
  target: T;
  actual: A;
  plan: TargetPlan<W>;
}

/** The keys every target's configuration has. */
export interface TargetBase {
  name: string;
  type: string;
  source: string;
  addresses?: AddressSelector;
  regions?: string[];
  adopt: boolean;
}

/**
 * A target type's driver (one instance may serve several types that write together, as the two Cloudflare DNS
 * types share one batch per zone). `apply` receives every plan this driver has due in the same phase, so a driver
 * that can batch does; it answers one outcome per item, in order.
 */
export interface TargetDriver<T = TargetBase, A = unknown, W = unknown> {
  /** The resource the target writes, for events and output (a resource ID or a DNS name). */
  resource(target: T): string;
  /** False for a target that follows something other than the source's addresses (a CNAME); default true. */
  needsAddresses?(target: T): boolean;
  /**
   * Targets with the same write key share one resource (two rules of one rule collection group): the engine hands
   * them to apply() in one call and one phase, so the driver makes one write for all of them.
   */
  writeKey?(target: T): string;
  read(target: T): Promise<A>;
  /** Reads several targets at once when that takes fewer requests; one result (or Error) per target, in order. */
  readMany?(targets: T[]): Promise<Array<A | Error>>;
  plan(target: T, actual: A, context: PlanContext): TargetPlan<W>;
  apply(items: ApplyItem<T, A, W>[]): Promise<ApplyOutcome[]>;
}

/** A read that failed in a way the operator must fix (missing resource, no permission...). */
export class TargetError extends Error {
  constructor(
    message: string,
    readonly hint?: string,
  ) {
    super(message);
    this.name = 'TargetError';
  }
}

/** Timing a driver may be given by the composition root; each driver applies its own defaults. */
export interface DriverTuning {
  /** Poll interval of long-running operations when the service sends no Retry-After. */
  pollIntervalMs?: number;
  /** The longest an Azure write may take, its long-running operation included (default 5 min; firewall 8). */
  maxWriteWaitMs?: number;
  /** How long a firewall policy busy with another operation is waited for (default 2 min). */
  busyWaitMs?: number;
  cloudflareMaxRetries?: number;
  /** How long one IP-list target waits for its bulk operations (and for another writer's to clear). */
  bulkOperationTimeoutMs?: number;
}

/** What the composition root (lib/wiring/) hands a target type to build its driver: clients, never settings. */
export interface DriverPorts {
  /** The network client of one subscription. */
  network(subscriptionId: string): NetworkManagementClient;
  /** Plain Resource Manager requests, for APIs no SDK client covers. */
  armRest: ArmRestClient;
  cloudflare: Cloudflare;
  tuning: DriverTuning;
  /** What is left of the run's time budget, in milliseconds. */
  remainingMs(): number;
  /** One instance per key for the life of the reconciler: types that write together share a driver. */
  shared<D>(key: string, make: () => D): D;
}

/** What the reconciler's identity, or its Cloudflare token, must be allowed to do for a target of a type. */
export type Permissions =
  | {
      provider: 'azure';
      /** The Resource Manager actions on the target resource (read and write); infra grants exactly these. */
      actions: string[];
    }
  | {
      provider: 'cloudflare';
      /** The token permissions, as the Cloudflare dashboard names them. */
      token: string[];
    };

/** A zod object schema whose `type` key is a literal: the configuration of one target type. */
export type TargetSchema = z.ZodObject<{ type: z.ZodLiteral<string> } & z.ZodRawShape>;

/** Everything the reconciler knows about one target type; lib/targets/registry.ts lists them. */
export interface TargetTypeDefinition<S extends TargetSchema = TargetSchema> {
  schema: S;
  /** The addresses a target follows when it sets no `addresses` (DNS: inbound; allowlists: outbound). */
  defaultSelector: AddressSelector;
  /** One valid target, shown in the JSON Schema (checked by the tests). */
  example: z.input<S>;
  /**
   * What a target of this type writes, as one comparable name: two targets writing the same thing are refused at
   * validation (docs/design/product.md §6, one resource, one owner). A type whose targets share a resource yet
   * write different parts of it in one read-modify-write (firewall rules of one group) names the part.
   */
  writes(target: z.output<S>): string;
  permissions: Permissions;
  /**
   * Checks across keys, on the raw target as written, so they are reported beside every other problem: each
   * problem starts with the key's path inside the target (`.create.sourceAddressPrefix: …`).
   */
  crossCheck?(target: Record<string, unknown>): string[];
  /** Builds the driver; a driver for another type does not compile here. */
  driver(ports: DriverPorts): TargetDriver<z.output<S>>;
}

export function defineTargetType<S extends TargetSchema>(
  definition: TargetTypeDefinition<S>,
): TargetTypeDefinition<S> {
  return definition;
}
