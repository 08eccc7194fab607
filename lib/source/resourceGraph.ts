import type { ArmRestClient } from '../azure/armRest';
import type { FleetQuery } from '../config/schema';
import type { FleetMember, FleetResolver } from './observation';

/**
 * A fleet's members through Azure Resource Graph: every APIM service carrying the tag, in the given
 * subscriptions (or every one the identity can see), paged with $skipToken. Resource Graph answers what the
 * identity can read: a service it has no role on is not found (and is not an error).
 */

export const RESOURCE_GRAPH_API_VERSION = '2024-04-01';

/** KQL string literal: single quotes, with quotes and backslashes escaped. */
const literal = (value: string) => `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

export function fleetQueryText(query: FleetQuery): string {
  const at = query.tag.indexOf('=');
  const key = query.tag.slice(0, at);
  const value = query.tag.slice(at + 1);
  return [
    'resources',
    "| where type =~ 'microsoft.apimanagement/service'",
    `| where tags[${literal(key)}] =~ ${literal(value)}`,
    '| project id, name, subscriptionId, resourceGroup',
    '| order by id asc',
  ].join(' ');
}

interface Page {
  data?: Array<Record<string, unknown>>;
  $skipToken?: string;
}

export class ResourceGraphFleet implements FleetResolver {
  constructor(private readonly client: ArmRestClient) {}

  async discover(query: FleetQuery): Promise<FleetMember[]> {
    const members: FleetMember[] = [];
    let skipToken: string | undefined;
    do {
      const { body } = await this.client.send('POST', '/providers/Microsoft.ResourceGraph/resources', {
        apiVersion: RESOURCE_GRAPH_API_VERSION,
        body: {
          query: fleetQueryText(query),
          ...(query.subscriptions ? { subscriptions: query.subscriptions } : {}),
          options: {
            resultFormat: 'objectArray',
            ...(skipToken ? { $skipToken: skipToken } : {}),
          },
        },
      });
      const page = (body ?? {}) as Page;
      for (const row of page.data ?? []) {
        if (typeof row.id === 'string' && typeof row.name === 'string')
          members.push({ name: row.name, resourceId: row.id });
      }
      skipToken = typeof page.$skipToken === 'string' && page.$skipToken ? page.$skipToken : undefined;
    } while (skipToken);
    return members;
  }
}
