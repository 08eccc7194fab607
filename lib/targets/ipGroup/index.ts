import { azureWriteOptions } from '../common/azure';
import { defineTargetType } from '../target';
import { IpGroupDriver } from './driver';
import { ipGroupSpec } from './schema';

export const ipGroup = defineTargetType({
  ...ipGroupSpec,
  driver: ({ network, tuning }) => new IpGroupDriver(network, azureWriteOptions(tuning)),
});
