import { CloudflareDnsDriver } from '../common/dnsZoneDriver';
import { defineTargetType } from '../target';
import { planDnsCname } from './plan';
import { dnsCnameSpec, type DnsCnameTarget } from './schema';

export const dnsCname = defineTargetType({
  ...dnsCnameSpec,
  // Every DNS type is served by one shared driver, so all record sets of a zone go in one batch.
  driver: (ports) =>
    ports
      .shared('cloudflare.dns', () => new CloudflareDnsDriver(ports.cloudflare))
      .serve<DnsCnameTarget>(dnsCnameSpec.schema.shape.type.value, {
        plan: planDnsCname,
        needsAddresses: false /* a CNAME follows the gateway host */,
      }),
});
