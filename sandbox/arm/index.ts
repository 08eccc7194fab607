/**
 * Azure Resource Manager emulator: APIM services (read), NSG security rules, IP Groups and Firewall Policy rule
 * collection groups (read/write, long-running), App Service access restrictions (site config/web) and Azure Resource
 * Graph queries, served over HTTPS with ARM's envelopes, headers and awkward parts. Independent of lib/ by design.
 *
 * The front door, long-running operations and paging are core.ts; each resource provider is one file (its routes,
 * seeds, validation and wire shapes, with the sources of what it does in its header) registered in PROVIDERS below.
 * A new provider is one file extending ArmProvider and one line in PROVIDERS; tests reach its seeding methods with
 * `emulator.provider(TheProvider)`. The methods below are the seeding API the tests and the story have always used.
 */
import { ApimServices, type ApimSeed } from './apim';
import { AppService, type SiteSeed } from './appService';
import { ArmCore, type ArmCoreOptions, type ProviderClass } from './core';
import { FirewallPolicies, type RuleCollectionGroupOptions } from './firewallPolicy';
import { IpGroups } from './ipGroups';
import { NetworkSecurityGroups, type SecurityRuleSeed } from './nsg';
import { ResourceGraph, type ResourceGraphOptions } from './resourceGraph';

export type { ApimRegionSeed, ApimSeed, ApimSku } from './apim';
export type { SiteSeed } from './appService';
export type { ThrottleCode } from './core';
export type { SecurityRuleSeed } from './nsg';

export interface ArmEmulatorOptions
  extends ArmCoreOptions, RuleCollectionGroupOptions, ResourceGraphOptions {}

/** The resource providers the emulator serves, in the order their routes are matched and their rows listed. */
const PROVIDERS: Array<ProviderClass<ArmEmulatorOptions>> = [
  ApimServices,
  NetworkSecurityGroups,
  IpGroups,
  FirewallPolicies,
  AppService,
  ResourceGraph,
];

export class ArmEmulator extends ArmCore {
  private constructor(options: ArmEmulatorOptions) {
    super(options, (core) => PROVIDERS.map((Provider) => new Provider(core, options)));
  }

  static async start(options: ArmEmulatorOptions): Promise<ArmEmulator> {
    const emulator = new ArmEmulator(options);
    await emulator.listen();
    return emulator;
  }

  // ----- APIM ----------------------------------------------------------------------------------------------------

  /** Creates or replaces an APIM service. */
  setApim(resourceId: string, seed: ApimSeed): void {
    this.provider(ApimServices).set(resourceId, seed);
  }

  /** Changes some fields of an existing APIM service (e.g. new IPs after a reactivation). */
  patchApim(resourceId: string, patch: Partial<ApimSeed>): void {
    this.provider(ApimServices).patch(resourceId, patch);
  }

  // ----- NSG security rules --------------------------------------------------------------------------------------

  setNsg(nsgId: string, seed: { location: string; rules?: Record<string, SecurityRuleSeed> }): void {
    this.provider(NetworkSecurityGroups).setNsg(nsgId, seed);
  }

  /** Creates or replaces a rule as if someone else had written it (validated like a PUT). The NSG must exist. */
  setSecurityRule(ruleId: string, properties: SecurityRuleSeed): void {
    this.provider(NetworkSecurityGroups).setRule(ruleId, properties);
  }

  deleteSecurityRule(ruleId: string): void {
    this.provider(NetworkSecurityGroups).removeRule(ruleId);
  }

  /** Exactly the JSON a GET of the rule would return now. */
  securityRule(ruleId: string): Record<string, unknown> | undefined {
    return this.provider(NetworkSecurityGroups).rule(ruleId);
  }

  // ----- IP Groups -----------------------------------------------------------------------------------------------

  setIpGroup(
    id: string,
    seed: { location: string; tags?: Record<string, string>; ipAddresses: string[] },
  ): void {
    this.provider(IpGroups).set(id, seed);
  }

  ipGroup(id: string): Record<string, unknown> | undefined {
    return this.provider(IpGroups).group(id);
  }

  // ----- Firewall Policy rule collection groups ------------------------------------------------------------------

  /** Creates or replaces an (empty) Firewall Policy; its rule collection groups are dropped. */
  setFirewallPolicy(policyId: string, seed: { location: string }): void {
    this.provider(FirewallPolicies).setPolicy(policyId, seed);
  }

  /** Creates or replaces a group as if someone else had written it (validated like a PUT). The policy must exist. */
  setRuleCollectionGroup(
    rcgId: string,
    seed: { priority: number; ruleCollections: Array<Record<string, unknown>> },
  ): void {
    this.provider(FirewallPolicies).setGroup(rcgId, seed);
  }

  /** Exactly the JSON a GET of the group would return now (newest api-version). */
  ruleCollectionGroup(rcgId: string): Record<string, unknown> | undefined {
    return this.provider(FirewallPolicies).group(rcgId);
  }

  // ----- App Service ---------------------------------------------------------------------------------------------

  /** Creates or replaces an App Service site with its access restrictions (validated like a PUT of config/web). */
  setSite(siteId: string, seed: SiteSeed): void {
    this.provider(AppService).setSite(siteId, seed);
  }

  /** Exactly the JSON a GET of the site's config/web would return now (newest stable api-version). */
  siteConfig(siteId: string): Record<string, unknown> | undefined {
    return this.provider(AppService).siteConfig(siteId);
  }

  // ----- Resource Graph ------------------------------------------------------------------------------------------

  /**
   * Adds a Resource Graph row (beside the APIM services, which are indexed automatically). `id` is required; the
   * rest defaults as ARG fills it (type from the id, lower-cased; subscriptionId and resourceGroup from the id,
   * lower-cased; location normalized). The row's subscription becomes one the caller can read.
   */
  addGraphResource(row: Record<string, unknown>): void {
    this.provider(ResourceGraph).add(row);
  }
}
