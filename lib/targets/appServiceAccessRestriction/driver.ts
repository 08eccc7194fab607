import type { ArmRestClient } from '../../azure/armRest';
import type { PlanContext, TargetPlan } from '../../plan/types';
import { isNotFound, readError, writeOutcome } from '../common/azure';
import { TargetError, type ApplyItem, type ApplyOutcome, type TargetDriver } from '../target';
import {
  planAccessRestrictions,
  type AppServiceActual,
  type AppServiceWrite,
  type Restriction,
} from './plan';
import type { AppServiceAccessRestrictionTarget } from './schema';

/**
 * `azure.appServiceAccessRestriction` over plain Resource Manager requests: GET and PUT of `config/web`. The
 * resource has no etag, so the list is read again just before the write and any change is a lost race.
 */

export const API_VERSION = '2024-11-01';

/** The entry App Service shows when a list has no rules of its own ("Allow all" / "Deny all"). */
const isImplicit = (r: Restriction) => String(r.ipAddress ?? '').toLowerCase() === 'any';

/**
 * A list with no rule of its own whose unmatched traffic is allowed (the implicit entry says Allow, and the default
 * action is not Deny): the site is open to everyone. docs/configuration.md, the OpenSite guard.
 */
function isOpen(value: unknown, defaultAction: unknown): boolean {
  const list = Array.isArray(value) ? (value as Restriction[]) : [];
  const implicit = list.find((r) => typeof r === 'object' && r !== null && isImplicit(r));
  return (
    restrictions(value).length === 0 &&
    defaultAction !== 'Deny' &&
    String(implicit?.action ?? 'Allow') === 'Allow'
  );
}

function configPath(siteId: string): string {
  return `${siteId.replace(/\/+$/, '')}/config/web`;
}

function restrictions(value: unknown): Restriction[] {
  return Array.isArray(value)
    ? value.filter(
        (r): r is Restriction => typeof r === 'object' && r !== null && !isImplicit(r as Restriction),
      )
    : [];
}

export class AppServiceDriver implements TargetDriver<
  AppServiceAccessRestrictionTarget,
  AppServiceActual,
  AppServiceWrite
> {
  constructor(private readonly client: ArmRestClient) {}

  resource(target: AppServiceAccessRestrictionTarget): string {
    return target.siteId;
  }

  async read(target: AppServiceAccessRestrictionTarget): Promise<AppServiceActual> {
    try {
      const { body } = await this.client.send('GET', configPath(target.siteId), { apiVersion: API_VERSION });
      const properties = ((body as Record<string, unknown> | undefined)?.properties ?? {}) as Record<
        string,
        unknown
      >;
      return {
        main: restrictions(properties.ipSecurityRestrictions),
        scm: restrictions(properties.scmIpSecurityRestrictions),
        scmUseMain: properties.scmIpSecurityRestrictionsUseMain === true,
        mainOpen: isOpen(properties.ipSecurityRestrictions, properties.ipSecurityRestrictionsDefaultAction),
        scmOpen: isOpen(
          properties.scmIpSecurityRestrictions,
          properties.scmIpSecurityRestrictionsDefaultAction,
        ),
      };
    } catch (error) {
      if (isNotFound(error)) {
        throw new TargetError(
          `web app ${target.siteId.split('/sites/')[1]} not found`,
          `check siteId of target ${target.name}`,
        );
      }
      throw readError(error, `the access restrictions of ${target.siteId.split('/sites/')[1]}`);
    }
  }

  plan(
    target: AppServiceAccessRestrictionTarget,
    actual: AppServiceActual,
    context: PlanContext,
  ): TargetPlan<AppServiceWrite> {
    return planAccessRestrictions(target, actual, context);
  }

  async apply(
    items: ApplyItem<AppServiceAccessRestrictionTarget, AppServiceActual, AppServiceWrite>[],
  ): Promise<ApplyOutcome[]> {
    return Promise.all(
      items.map(async ({ target, actual, plan }): Promise<ApplyOutcome> => {
        try {
          // No etag on config/web: a change since our read would be silently overwritten, so look once more.
          const now = await this.read(target);
          if (JSON.stringify(now) !== JSON.stringify(actual)) {
            return { status: 'lost-race', error: 'the access restrictions changed since they were read' };
          }
          const write = plan.write!;
          await this.client.send('PUT', configPath(target.siteId), {
            apiVersion: API_VERSION,
            body: {
              properties: {
                ipSecurityRestrictions: write.main,
                ...(write.scm ? { scmIpSecurityRestrictions: write.scm } : {}),
              },
            },
          });
          return { status: 'applied' };
        } catch (error) {
          return writeOutcome(error);
        }
      }),
    );
  }
}
