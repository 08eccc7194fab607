import { defineTargetType } from '../target';
import { CloudflarePoolOriginsDriver } from './driver';
import { poolOriginsSpec } from './schema';

export const poolOrigins = defineTargetType({
  ...poolOriginsSpec,
  driver: ({ cloudflare }) => new CloudflarePoolOriginsDriver(cloudflare),
});
