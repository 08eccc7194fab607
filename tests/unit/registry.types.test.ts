import { NetworkManagementClient } from '@azure/arm-network';
import { nsgRuleSpec } from '../../lib/targets/nsgRule/schema';
import { IpGroupDriver } from '../../lib/targets/ipGroup/driver';
import { NsgRuleDriver } from '../../lib/targets/nsgRule/driver';
import { TARGET_TYPE_NAMES, TARGET_TYPES, definitionOf, type DriverTable } from '../../lib/targets/registry';
import { defineTargetType } from '../../lib/targets/target';

/**
 * A driver wired to the wrong target type does not compile: each `@ts-expect-error` below fails `npm run typecheck`
 * (and this suite, which ts-jest type-checks) the day the registry's types stop catching that mistake.
 */

const credential = { getToken: async () => ({ token: 't', expiresOnTimestamp: Date.now() + 60_000 }) };
const network = () => new NetworkManagementClient(credential, 'sub', { endpoint: 'https://127.0.0.1:1' });
const writeOptions = { pollIntervalMs: 10, maxWaitMs: 1000 };

test('the driver table takes the NSG rule driver for NSG rules and refuses the IP Group driver there', () => {
  const right: Pick<DriverTable, 'azure.nsgRule'> = {
    'azure.nsgRule': new NsgRuleDriver(network, writeOptions),
  };
  const wrong: Pick<DriverTable, 'azure.nsgRule'> = {
    // @ts-expect-error an IP Group driver cannot serve azure.nsgRule targets
    'azure.nsgRule': new IpGroupDriver(network, writeOptions),
  };
  expect(right['azure.nsgRule']).toBeInstanceOf(NsgRuleDriver);
  expect(wrong['azure.nsgRule']).toBeInstanceOf(IpGroupDriver);
});

test('a target type definition refuses a driver built for another type', () => {
  const definition = defineTargetType({
    ...nsgRuleSpec,
    // @ts-expect-error the definition of azure.nsgRule must build a driver of NSG rules
    driver: () => new IpGroupDriver(network, writeOptions),
  });
  expect(definition.schema).toBe(nsgRuleSpec.schema);
});

test('the registry lists each type once, and finds each by name', () => {
  expect(new Set(TARGET_TYPE_NAMES).size).toBe(TARGET_TYPES.length);
  for (const name of TARGET_TYPE_NAMES) expect(definitionOf(name).schema.shape.type.value).toBe(name);
});
