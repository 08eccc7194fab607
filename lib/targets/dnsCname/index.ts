import type { DnsActual, DnsWrite } from '../shared/dnsRecordSet';
import { CloudflareDnsDriver } from '../shared/dnsZoneDriver';
import { defineTargetType, type TargetDriver } from '../target';
import { dnsCnameSpec, type DnsCnameTarget } from './schema';

export const dnsCname = defineTargetType({
  ...dnsCnameSpec,
  // Both DNS types share one driver: every record set of a zone goes in one batch.
  driver: (ports): TargetDriver<DnsCnameTarget, DnsActual, DnsWrite> =>
    ports.shared('cloudflare.dns', () => new CloudflareDnsDriver(ports.cloudflare)),
});
