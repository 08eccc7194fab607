/**
 * The configuration of the cold-start benchmark: `targets` targets over ceil(targets / 3) APIM services, in turn a
 * Cloudflare A record (10 zones), an NSG rule and an IP Group. At 1,000 targets the document is about 200 KB: more
 * than Linux allows in one environment variable (128 KiB), so it is a file (RECONCILER_CONFIG_FILE), not the inline
 * RECONCILER_CONFIG.
 */

const SUBSCRIPTION = '00000000-0000-0000-0000-0000000000c0';

export function coldStartConfig(targets: number): Record<string, unknown> {
  const sources: Record<string, { resourceId: string }> = {};
  const list: Array<Record<string, unknown>> = [];
  for (let i = 0; list.length < targets; i++) {
    const source = `svc${i}`;
    sources[source] = {
      resourceId: `/subscriptions/${SUBSCRIPTION}/resourceGroups/rg-apim/providers/Microsoft.ApiManagement/service/${source}`,
    };
    const perSource = [
      {
        name: `dns-${source}`,
        type: 'cloudflare.dnsRecords',
        source,
        zoneId: `zone${i % 10}`,
        recordName: `${source}.contoso.com`,
      },
      {
        name: `nsg-${source}`,
        type: 'azure.nsgRule',
        source,
        ruleId: `/subscriptions/${SUBSCRIPTION}/resourceGroups/rg-backend/providers/Microsoft.Network/networkSecurityGroups/nsg-${source}/securityRules/allow-apim`,
      },
      {
        name: `ipg-${source}`,
        type: 'azure.ipGroup',
        source,
        resourceId: `/subscriptions/${SUBSCRIPTION}/resourceGroups/rg-firewall/providers/Microsoft.Network/ipGroups/ipg-${source}`,
      },
    ];
    list.push(...perSource.slice(0, targets - list.length));
  }
  return { sources, targets: list };
}

/** The app settings of the Functions app in Azure (identity, token), storage on `storagePort` (a stub). */
export function coldStartEnv(
  configFile: string,
  storagePort: number,
  appInsights: boolean,
): Record<string, string> {
  return {
    RECONCILER_CONFIG_FILE: configFile,
    RECONCILE_SCHEDULE: '0 */5 * * * *',
    CLOUDFLARE_API_TOKEN: 'benchmark-token-000000000000000000000000000000',
    AZURE_CLIENT_ID: '11111111-1111-1111-1111-111111111111',
    // Azurite's well-known development account, on a stub that answers every request 404 BlobNotFound.
    AzureWebJobsStorage:
      'DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;' +
      'AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;' +
      `BlobEndpoint=http://127.0.0.1:${storagePort}/devstoreaccount1;`,
    ...(appInsights
      ? {
          APPLICATIONINSIGHTS_CONNECTION_STRING:
            'InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=https://127.0.0.1:9/',
          APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'Authorization=AAD',
        }
      : {}),
  };
}
