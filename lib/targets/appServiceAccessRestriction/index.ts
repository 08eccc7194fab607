import { defineTargetType } from '../target';
import { AppServiceDriver } from './driver';
import { appServiceAccessRestrictionSpec } from './schema';

export const appServiceAccessRestriction = defineTargetType({
  ...appServiceAccessRestrictionSpec,
  driver: ({ armRest }) => new AppServiceDriver(armRest),
});
