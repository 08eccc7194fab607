import type { z } from 'zod';
import { appServiceAccessRestriction } from './appServiceAccessRestriction';
import { dnsCname } from './dnsCname';
import { dnsRecords } from './dnsRecords';
import { firewallPolicyRule } from './firewallPolicyRule';
import { ipGroup } from './ipGroup';
import { ipList } from './ipList';
import { nsgRule } from './nsgRule';
import { poolOrigins } from './poolOrigins';
import type { DriverPorts, TargetDriver } from './target';

/**
 * Every target type, one line each (docs/design/adding-a-target-type.md). The configuration schema, the default
 * address selectors, the JSON Schema examples, the permission checks and the driver table are all built from here.
 */
export const TARGET_TYPES = [
  dnsRecords,
  dnsCname,
  ipList,
  poolOrigins,
  nsgRule,
  ipGroup,
  firewallPolicyRule,
  appServiceAccessRestriction,
] as const;

type Definitions = typeof TARGET_TYPES;

/** The configuration of any target, as validated. */
export type TargetConfig = z.output<Definitions[number]['schema']>;
export type TargetType = TargetConfig['type'];
/** The configuration of one target type. */
export type TargetOfType<K extends TargetType> = Extract<TargetConfig, { type: K }>;

/** The zod schemas of every type, in registry order, as a tuple (for a discriminated union). */
type SchemasOf<T extends readonly unknown[]> = {
  -readonly [I in keyof T]: T[I] extends { schema: infer S } ? S : never;
};
export type TargetSchemas = SchemasOf<Definitions>;
export const TARGET_SCHEMAS = TARGET_TYPES.map((t) => t.schema) as unknown as TargetSchemas;

export const typeOf = (definition: Definitions[number]): TargetType => definition.schema.shape.type.value;

export const TARGET_TYPE_NAMES: readonly TargetType[] = TARGET_TYPES.map(typeOf);

/** The definition of a type by name. */
export function definitionOf(type: TargetType): Definitions[number] {
  const definition = TARGET_TYPES.find((t) => typeOf(t) === type);
  if (!definition) throw new Error(`unknown target type ${type}`);
  return definition;
}

/**
 * One driver per type, each typed for its own targets: wiring a driver to the wrong type does not compile
 * (tests/unit/registry.types.test.ts shows it).
 */
export type DriverTable = { [K in TargetType]: TargetDriver<TargetOfType<K>> };

/** The driver table, built from the registry by the composition root. */
export function createDrivers(ports: DriverPorts): DriverTable {
  return Object.fromEntries(TARGET_TYPES.map((t) => [typeOf(t), t.driver(ports)])) as DriverTable;
}

/** The driver of a target, typed for the engine (which knows targets only by the base interface). */
export function driverFor(drivers: DriverTable, target: TargetConfig): TargetDriver<TargetConfig> {
  return drivers[target.type] as TargetDriver<TargetConfig>;
}
