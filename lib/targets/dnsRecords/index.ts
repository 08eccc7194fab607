import { CloudflareDnsDriver } from '../common/dnsZoneDriver';
import { defineTargetType } from '../target';
import { planDnsRecords } from './plan';
import { dnsRecordsSpec, type DnsRecordsTarget } from './schema';

export const dnsRecords = defineTargetType({
  ...dnsRecordsSpec,
  // Every DNS type is served by one shared driver, so all record sets of a zone go in one batch.
  driver: (ports) =>
    ports
      .shared('cloudflare.dns', () => new CloudflareDnsDriver(ports.cloudflare))
      .serve<DnsRecordsTarget>(dnsRecordsSpec.schema.shape.type.value, {
        plan: planDnsRecords,
        needsAddresses: true,
      }),
});
