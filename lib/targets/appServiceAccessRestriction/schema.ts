import { z } from 'zod';
import { armId, armIdPattern, NAME_SEGMENT, targetBase } from '../../config/fields';
import type { TargetTypeDefinition } from '../target';

/** `azure.appServiceAccessRestriction`: the access restrictions named apim-<ip> of a web app (or slot). */
export const SITE_ID = armIdPattern(`Microsoft\\.Web/sites/${NAME_SEGMENT}(/slots/${NAME_SEGMENT})?`);

const priority = z.number().int().min(1).max(2147483646);

export const appServiceAccessRestrictionSchema = z
  .strictObject({
    ...targetBase,
    type: z.literal('azure.appServiceAccessRestriction'),
    siteId: armId(
      SITE_ID,
      '/subscriptions/<sub>/resourceGroups/<rg>/providers/Microsoft.Web/sites/<app>[/slots/<slot>]',
    ),
    /** Priorities new `apim-*` entries may take; entries outside are never renumbered. */
    priorityRange: z
      .tuple([priority, priority])
      .refine(([from, to]) => from <= to, { message: 'must be [from, to] with from ≤ to' })
      .default([300, 399]),
    /** Also manage the scm (Kudu) site's restrictions, unless it uses the main site's list. */
    scm: z.boolean().default(false),
    /**
     * Add the first entry to a site that has no restrictions (open to every client) even so: that applies the
     * implicit deny and shuts out every other client (OpenSite guard, docs/configuration.md).
     */
    closeOpenSite: z.boolean().default(false),
  })
  .meta({ description: 'The access restrictions named apim-<ip> of a web app (or slot).' });

export type AppServiceAccessRestrictionTarget = z.output<typeof appServiceAccessRestrictionSchema>;

export const appServiceAccessRestrictionSpec = {
  schema: appServiceAccessRestrictionSchema,
  defaultSelector: 'outbound',
  example: {
    name: 'backend-app',
    type: 'azure.appServiceAccessRestriction',
    source: 'prod',
    siteId:
      '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-web/providers/Microsoft.Web/sites/backend-app',
    priorityRange: [300, 399],
  },
  writes: (t: AppServiceAccessRestrictionTarget) => t.siteId.toLowerCase(),
  permissions: {
    provider: 'azure',
    actions: [
      'Microsoft.Web/sites/Read',
      'Microsoft.Web/sites/config/Read',
      'Microsoft.Web/sites/config/Write',
      // A slot's restrictions (siteId …/slots/<slot>) are read and written through the slot's own actions.
      'Microsoft.Web/sites/slots/Read',
      'Microsoft.Web/sites/slots/config/Read',
      'Microsoft.Web/sites/slots/config/Write',
    ],
  },
} satisfies Omit<TargetTypeDefinition<typeof appServiceAccessRestrictionSchema>, 'driver'>;
