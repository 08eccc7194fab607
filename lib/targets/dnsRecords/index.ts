import type { DnsActual, DnsWrite } from '../shared/dnsRecordSet';
import { CloudflareDnsDriver } from '../shared/dnsZoneDriver';
import { defineTargetType, type TargetDriver } from '../target';
import { dnsRecordsSpec, type DnsRecordsTarget } from './schema';

export const dnsRecords = defineTargetType({
  ...dnsRecordsSpec,
  // Both DNS types share one driver: every record set of a zone goes in one batch.
  driver: (ports): TargetDriver<DnsRecordsTarget, DnsActual, DnsWrite> =>
    ports.shared('cloudflare.dns', () => new CloudflareDnsDriver(ports.cloudflare)),
});
