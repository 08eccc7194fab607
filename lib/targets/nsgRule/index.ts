import { azureWriteOptions } from '../common/azure';
import { defineTargetType } from '../target';
import { NsgRuleDriver } from './driver';
import { nsgRuleSpec } from './schema';

export const nsgRule = defineTargetType({
  ...nsgRuleSpec,
  driver: ({ network, tuning }) => new NsgRuleDriver(network, azureWriteOptions(tuning)),
});
