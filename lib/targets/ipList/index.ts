import { defineTargetType } from '../target';
import { CloudflareIpListDriver } from './driver';
import { ipListSpec } from './schema';

export const ipList = defineTargetType({
  ...ipListSpec,
  driver: ({ cloudflare, tuning, remainingMs }) =>
    new CloudflareIpListDriver(cloudflare, {
      pollIntervalMs: tuning.pollIntervalMs ?? 2000,
      timeoutMs: tuning.bulkOperationTimeoutMs ?? 60_000,
      maxRetries: tuning.cloudflareMaxRetries ?? 2,
      remainingMs,
    }),
});
