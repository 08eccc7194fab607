import { azureWriteOptions } from '../common/azure';
import { defineTargetType } from '../target';
import { FirewallRuleDriver } from './driver';
import { firewallPolicyRuleSpec } from './schema';

export const firewallPolicyRule = defineTargetType({
  ...firewallPolicyRuleSpec,
  // Firewall policy writes take minutes, and a policy busy with another write answers 409 for a while.
  driver: ({ network, tuning }) =>
    new FirewallRuleDriver(network, {
      ...azureWriteOptions(tuning, 8 * 60_000),
      busyWaitMs: tuning.busyWaitMs ?? 2 * 60_000,
    }),
});
