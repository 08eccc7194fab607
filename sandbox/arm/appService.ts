/**
 * App Service sites and their access restrictions (Microsoft.Web/sites/{app}, …/config/web): GET of the site; GET,
 * PUT and PATCH of config/web.
 *
 * - Paths and schema: Azure/azure-rest-api-specs `specification/web/resource-manager/Microsoft.Web/AppService/stable/
 *   2025-03-01/WebApps.json` (IpSecurityRestriction: ipAddress, subnetMask, vnetSubnetResourceId, action, tag,
 *   priority, name, description, headers; siblings scmIpSecurityRestrictions, scmIpSecurityRestrictionsUseMain,
 *   ipSecurityRestrictionsDefaultAction); api-versions from the readme.md of that folder.
 * - Real traffic (azure-powershell SessionRecords AccessRestrictionTests, api 2018-11-01; azure-powershell#13818):
 *   `name` is the SITE name, not "web"; `location` is the display form ("West US"); Content-Type is
 *   `application/json` without charset; responses carry Server/X-AspNet-Version/X-Powered-By; there is NO ETag on
 *   config/web (the site itself has one) and If-Match is ignored. PUT and PATCH are synchronous 200s returning the
 *   whole config. A property left out of a PUT or PATCH keeps its value (App Service treats absent/null as "unchanged";
 *   ARM templates deploy partial sites/config 'web'); a list that is sent replaces the stored list whole.
 * - With no rules the list holds the implicit `{"ipAddress":"Any","action":"Allow","priority":2147483647,"name":
 *   "Allow all","description":"Allow all access"}`; once rules exist the implicit last entry is "Deny all"/"Deny all
 *   access" (a GET of config/web quoted in hashicorp/terraform-provider-azurerm#18664; Microsoft Learn
 *   overview-access-restrictions#unmatched-rule) unless ipSecurityRestrictionsDefaultAction says Allow (docs:
 *   app-service-ip-restrictions.md). A 2019 recording showed the implicit entry at priority 1, so identify it by
 *   ipAddress "Any", never by priority. A client that writes the implicit entry back gets it STORED as an explicit
 *   rule (whether App Service drops it is unknown; this is the stricter choice — strip "Any" entries before a PUT).
 *   ipSecurityRestrictionsDefaultAction and its scm twin are rendered from api-version 2022-09-01 (a guess), `null`
 *   until set.
 * - Validation: "IpSecurityRestriction.IpAddress is invalid. It must be in CIDR format." (terraform-provider-azurerm
 *   #3963; a bare address without subnetMask and a CIDR with host bits are refused here — stricter than unknown);
 *   "IpSecurityRestriction is invalid. Only IpAddress or VnetSubnetResourceId property must be specified."
 *   (terraform-provider-azurerm#13327 shows only its first words); up to 8 comma-separated ranges or service tags per
 *   rule, up to 8 values per header, headers x-forwarded-host|x-forwarded-for|x-azure-fdid|x-fd-healthprobe, 512 rules
 *   (app-service-ip-restrictions.md); duplicate priorities (the doc's Bicep sample) and duplicate or missing names
 *   (Azure/Azure-Functions#1852) are accepted; no name length limit was found, none is enforced. Errors use App
 *   Service's own envelope `{Code,Message,Target,Details:[…,{ErrorEntity:{ExtendedCode,MessageTemplate,…}}],
 *   Innererror}` (real, many issues); the ExtendedCode 51021 and the texts of the other refusals are INVENTED.
 *   A missing site is 404 with ExtendedCode 51004 "Cannot find {0} with name {1}." (template real, "Site" a guess).
 * - Slots (`…/sites/{app}/slots/{slot}`, `…/slots/{slot}/config/web`: WebApps.json GetConfigurationSlot /
 *   UpdateConfigurationSlot) keep access restrictions of their own, with the same semantics; RBAC actions
 *   `Microsoft.Web/sites/slots/read`, `…/slots/config/read`, `…/slots/config/write` (the Microsoft.Web operations list).
 *   A slot is seeded with setSite() on its slot ID.
 * - Rule names: no documented limit was found; the portal's field is recalled as taking 32 characters (UNVERIFIED). The
 *   stricter choice: a name over 32 characters is refused with an INVENTED message, so a client must keep its names short
 *   (an IPv6 address alone can take 39).
 * - No concurrency control exists, so a concurrent modification is a silent lost update: concurrentModification on
 *   webConfig.put/patch lets another writer add a rule just before this request applies; a request that sends the list
 *   wipes it without any error. Only a re-read (and comparing with what the other writers expect) can tell.
 */
import { isIPv4 } from 'node:net';
import type { Reply } from '../emulator';
import { isServiceTag, parsePrefix } from './addresses';
import { ArmProvider, type ApiVersionRule, type ArmRequest, type ArmRoute } from './core';
import {
  ArmFailure,
  RESOURCE_NOT_FOUND_HELP,
  apiVersionAtLeast,
  capitalize,
  checkPutContent,
  inWireOrder,
  isAtOrUnder,
  isRecord,
  isStringArray,
  key,
  normalizeLocation,
  parseTopLevelId,
  requireBody,
  resourcePath,
  rgPath,
  seedOrThrow,
  type ResourceRef,
  type WireOrder,
} from './wire';

/** An App Service site as seeded; restriction entries are validated like a PUT of config/web. */
export interface SiteSeed {
  location: string;
  ipSecurityRestrictions?: Array<Record<string, unknown>>;
  scmIpSecurityRestrictions?: Array<Record<string, unknown>>;
  scmIpSecurityRestrictionsUseMain?: boolean;
  ipSecurityRestrictionsDefaultAction?: 'Allow' | 'Deny';
  scmIpSecurityRestrictionsDefaultAction?: 'Allow' | 'Deny';
}

const SITE_TYPE = 'Microsoft.Web/sites';
const MAX_RESTRICTION_NAME = 32;

/** A site ID or a slot's (`…/sites/{app}/slots/{slot}`): the site's reference, the slot, and the stored ID. */
function parseSiteOrSlot(id: string): { ref: ResourceRef; slot?: string; id: string } {
  const slot = /^(.*)\/slots\/([^/]+)$/i.exec(id);
  const ref = parseTopLevelId(slot ? slot[1]! : id, SITE_TYPE);
  const site = resourcePath(ref, SITE_TYPE);
  return slot ? { ref, slot: slot[2]!, id: `${site}/slots/${slot[2]}` } : { ref, id: site };
}

/** Microsoft.Web stable versions (specification/web/…/AppService/readme.md) and the preview in the same list. */
// prettier-ignore
const WEB_VERSIONS = [
  '2015-08-01', '2016-03-01', '2016-08-01', '2016-09-01', '2018-02-01', '2018-11-01', '2019-08-01', '2020-06-01',
  '2020-09-01', '2020-10-01', '2020-12-01', '2021-01-01', '2021-01-15', '2021-02-01', '2021-03-01', '2022-03-01',
  '2022-09-01', '2023-01-01', '2023-12-01', '2024-04-01', '2024-11-01', '2025-03-01', '2025-05-01',
  '2026-03-01-preview', '2026-03-15', '2026-07-15', '2026-09-01',
];

/** The newest stable version: what siteConfig() renders. */
const NEWEST_STABLE = '2025-03-01';

const WEB_RESPONSE_HEADERS: Record<string, string> = {
  'Content-Type': 'application/json',
  Server: 'Microsoft-IIS/10.0',
  'X-AspNet-Version': '4.0.30319',
  'X-Powered-By': 'ASP.NET',
};
const MAX_ACCESS_RESTRICTIONS = 512;
const MAX_RESTRICTION_SOURCES = 8;
const IMPLICIT_RESTRICTION_PRIORITY = 2147483647;
const RESTRICTION_TAGS = ['Default', 'XffProxy', 'ServiceTag'];
const RESTRICTION_HEADERS = ['x-forwarded-host', 'x-forwarded-for', 'x-azure-fdid', 'x-fd-healthprobe'];
const SUBNET_ID =
  /^\/subscriptions\/[^/]+\/resourceGroups\/[^/]+\/providers\/Microsoft\.Network\/virtualNetworks\/[^/]+\/subnets\/[^/]+$/i;
// prettier-ignore
const RESTRICTION_ORDER: WireOrder = {
  keys: ['ipAddress', 'subnetMask', 'vnetSubnetResourceId', 'vnetTrafficTag', 'subnetTrafficTag', 'action', 'tag',
    'priority', 'name', 'description', 'headers'],
  lists: [],
};
const RESTRICTION_LISTS = ['ipSecurityRestrictions', 'scmIpSecurityRestrictions'] as const;
type RestrictionList = (typeof RESTRICTION_LISTS)[number];

interface SiteRecord {
  ref: ResourceRef;
  /** The slot, for a slot's configuration; undefined for the production site. */
  slot?: string;
  id: string;
  /** As seeded: App Service answers with the display form ("West Europe"). */
  location: string;
  etag: string;
  createdAt: Date;
  ipSecurityRestrictions: Array<Record<string, unknown>>;
  scmIpSecurityRestrictions: Array<Record<string, unknown>>;
  scmIpSecurityRestrictionsUseMain: boolean;
  ipSecurityRestrictionsDefaultAction?: 'Allow' | 'Deny';
  scmIpSecurityRestrictionsDefaultAction?: 'Allow' | 'Deny';
  /** Other siteConfig properties written through PUT/PATCH (shallow). */
  overrides: Record<string, unknown>;
}

/** App Service etags are the modification time in .NET ticks, in hex ("1D56FEAE1F41D80"). */
function siteEtag(date = new Date()): string {
  return (BigInt(date.getTime()) * 10_000n + 621_355_968_000_000_000n).toString(16).toUpperCase();
}

// ---------------------------------------------------------------------------------------------------------------
// The provider

export class AppService extends ArmProvider {
  private readonly sites = new Map<string, SiteRecord>();

  routes(): ArmRoute[] {
    const site = `/subscriptions/{subscription}/resourceGroups/{resourceGroup}/providers/${SITE_TYPE}/{site}`;
    const config = `${site}/config/web`;
    const write = 'Microsoft.Web/sites/config/write';
    const slot = `${site}/slots/{slot}`;
    const slotConfig = `${slot}/config/web`;
    const slotWrite = 'Microsoft.Web/sites/slots/config/write';
    return [
      {
        name: 'slot.get',
        method: 'GET',
        template: slot,
        action: `${SITE_TYPE}/slots/read`,
        handle: (r) => this.getSite(r),
      },
      {
        name: 'slotWebConfig.get',
        method: 'GET',
        template: slotConfig,
        action: 'Microsoft.Web/sites/slots/config/read',
        handle: (r) => this.getWebConfig(r),
      },
      {
        name: 'slotWebConfig.put',
        method: 'PUT',
        template: slotConfig,
        action: slotWrite,
        handle: (r) => this.write(r),
      },
      {
        name: 'slotWebConfig.patch',
        method: 'PATCH',
        template: slotConfig,
        action: slotWrite,
        handle: (r) => this.write(r),
      },
      {
        name: 'site.get',
        method: 'GET',
        template: site,
        action: `${SITE_TYPE}/read`,
        handle: (r) => this.getSite(r),
      },
      {
        name: 'webConfig.get',
        method: 'GET',
        template: config,
        action: 'Microsoft.Web/sites/config/read',
        handle: (r) => this.getWebConfig(r),
      },
      { name: 'webConfig.put', method: 'PUT', template: config, action: write, handle: (r) => this.write(r) },
      {
        name: 'webConfig.patch',
        method: 'PATCH',
        template: config,
        action: write,
        handle: (r) => this.write(r),
      },
    ];
  }

  override apiVersions(): ApiVersionRule[] {
    return [{ namespace: 'Microsoft.Web', versions: WEB_VERSIONS }];
  }

  override locationOf(lowerPath: string): string | undefined {
    const site = [...this.sites.values()].find((w) => isAtOrUnder(lowerPath, w.id));
    return site ? normalizeLocation(site.location) : undefined;
  }

  // ----- seeding and inspection ----------------------------------------------------------------------------------

  /** Creates or replaces an App Service site with its access restrictions (validated like a PUT of config/web). */
  setSite(siteId: string, seed: SiteSeed): void {
    const { ref, slot, id } = parseSiteOrSlot(siteId);
    this.core.registerResourceGroup(ref.subscription, ref.resourceGroup);
    const site: SiteRecord = {
      ref,
      ...(slot ? { slot } : {}),
      id,
      location: seed.location,
      etag: siteEtag(),
      createdAt: new Date(),
      ipSecurityRestrictions: [],
      scmIpSecurityRestrictions: [],
      scmIpSecurityRestrictionsUseMain: seed.scmIpSecurityRestrictionsUseMain ?? false,
      ipSecurityRestrictionsDefaultAction: seed.ipSecurityRestrictionsDefaultAction,
      scmIpSecurityRestrictionsDefaultAction: seed.scmIpSecurityRestrictionsDefaultAction,
      overrides: {},
    };
    for (const list of RESTRICTION_LISTS) {
      const entries = seed[list];
      if (entries) site[list] = seedOrThrow(() => readRestrictionList(structuredClone(entries), list));
    }
    this.sites.set(key(id), site);
  }

  /** Exactly the JSON a GET of the site's config/web would return now (newest stable api-version). */
  siteConfig(siteId: string): Record<string, unknown> | undefined {
    const site = this.sites.get(key(parseSiteOrSlot(siteId).id));
    return site ? renderWebConfig(site, NEWEST_STABLE) : undefined;
  }

  // ----- handlers ------------------------------------------------------------------------------------------------

  private siteFromParams(r: ArmRequest): SiteRecord | undefined {
    const { subscription = '', resourceGroup = '', site = '', slot } = r.params;
    const path = resourcePath({ subscription, resourceGroup, name: site }, SITE_TYPE);
    return this.sites.get(key(slot ? `${path}/slots/${slot}` : path));
  }

  private requireSite(r: ArmRequest): SiteRecord {
    const site = this.siteFromParams(r);
    if (!site)
      throw new WebFailure(404, 'NotFound', '51004', 'Cannot find {0} with name {1}.', [
        'Site',
        r.params.site ?? '',
      ]);
    return site;
  }

  private getSite(r: ArmRequest): Reply {
    const site = this.siteFromParams(r);
    if (!site) {
      const what = r.params.slot ? `${r.params.site}/slots/${r.params.slot}` : r.params.site;
      throw new ArmFailure(
        404,
        'ResourceNotFound',
        `The Resource 'Microsoft.Web/sites/${what}' under resource group '${r.params.resourceGroup}' was ` +
          `not found. ${RESOURCE_NOT_FOUND_HELP}`,
      );
    }
    const host = `${site.ref.name.toLowerCase()}.azurewebsites.net`;
    const scmHost = `${site.ref.name.toLowerCase()}.scm.azurewebsites.net`;
    const body = {
      id: site.id,
      name: site.slot ? `${site.ref.name}/${site.slot}` : site.ref.name,
      type: site.slot ? `${SITE_TYPE}/slots` : SITE_TYPE,
      kind: 'app',
      location: site.location,
      properties: {
        name: site.ref.name,
        state: 'Running',
        hostNames: [host],
        webSpace: `${site.ref.resourceGroup}-${site.location.replace(/\s+/g, '')}webspace`,
        repositorySiteName: site.ref.name,
        usageState: 'Normal',
        enabled: true,
        adminEnabled: true,
        enabledHostNames: [host, scmHost],
        availabilityState: 'Normal',
        serverFarmId: `${rgPath(site.ref.subscription, site.ref.resourceGroup)}/providers/Microsoft.Web/serverfarms/${site.ref.name}-plan`,
        reserved: false,
        lastModifiedTimeUtc: site.createdAt
          .toISOString()
          .replace(/Z$/, '')
          .replace(/(\.\d{3})$/, '$10000'),
        siteConfig: null,
        httpsOnly: false,
        resourceGroup: site.ref.resourceGroup,
        defaultHostName: host,
        publicNetworkAccess: null,
      },
    };
    return { status: 200, body, headers: { ...WEB_RESPONSE_HEADERS, ETag: `"${site.etag}"` } };
  }

  private getWebConfig(r: ArmRequest): Reply {
    const site = this.requireSite(r);
    return {
      status: 200,
      body: renderWebConfig(site, r.apiVersion),
      headers: { ...WEB_RESPONSE_HEADERS },
    };
  }

  /** PUT and PATCH: every property sent replaces the stored one (lists whole); absent ones keep their value. */
  private write(r: ArmRequest): Reply {
    const site = this.requireSite(r);
    if (r.ctx.method === 'PATCH') checkPutContent(r.ctx);
    const body = requireBody(r.ctx.body);
    if (body.properties !== undefined && body.properties !== null && !isRecord(body.properties)) {
      throw restrictionInvalid('Properties is invalid. It must be an object.');
    }
    const update = isRecord(body.properties) ? body.properties : {};
    const lists: Partial<Record<RestrictionList, Array<Record<string, unknown>>>> = {};
    for (const list of RESTRICTION_LISTS) {
      if (update[list] !== undefined && update[list] !== null)
        lists[list] = readRestrictionList(update[list], list);
    }
    const useMain = update.scmIpSecurityRestrictionsUseMain;
    if (useMain !== undefined && useMain !== null && typeof useMain !== 'boolean') {
      throw restrictionInvalid('ScmIpSecurityRestrictionsUseMain is invalid. It must be a boolean.');
    }
    const defaults: Partial<
      Record<
        'ipSecurityRestrictionsDefaultAction' | 'scmIpSecurityRestrictionsDefaultAction',
        'Allow' | 'Deny'
      >
    > = {};
    for (const name of [
      'ipSecurityRestrictionsDefaultAction',
      'scmIpSecurityRestrictionsDefaultAction',
    ] as const) {
      if (update[name] !== undefined && update[name] !== null)
        defaults[name] = readDefaultAction(update[name], name);
    }
    if (r.ctx.concurrentModification) this.concurrentWrite(site);
    for (const list of RESTRICTION_LISTS) {
      const entries = lists[list];
      if (entries) site[list] = entries;
    }
    if (typeof useMain === 'boolean') site.scmIpSecurityRestrictionsUseMain = useMain;
    Object.assign(site, defaults);
    const known = renderWebConfig(site, NEWEST_STABLE).properties as Record<string, unknown>;
    for (const [name, value] of Object.entries(update)) {
      if (name in known && !isRestrictionField(name) && value !== undefined && value !== null) {
        site.overrides[name] = structuredClone(value);
      }
    }
    site.etag = siteEtag();
    return {
      status: 200,
      body: renderWebConfig(site, r.apiVersion),
      headers: { ...WEB_RESPONSE_HEADERS },
    };
  }

  /** Another writer (portal, a pipeline) adds an allow rule, with no etag to tell anyone. */
  private concurrentWrite(site: SiteRecord): void {
    const n = this.core.nextConcurrentWriter();
    site.ipSecurityRestrictions = [
      ...site.ipSecurityRestrictions,
      { ipAddress: `198.51.100.${n}/32`, action: 'Allow', priority: 900, name: 'other-writer' },
    ];
  }
}

function isRestrictionField(name: string): boolean {
  return /^(scm)?IpSecurityRestrictions(DefaultAction|UseMain)?$/i.test(name);
}

function renderWebConfig(site: SiteRecord, apiVersion: string): Record<string, unknown> {
  const withDefaultAction = apiVersionAtLeast(apiVersion, '2022-09-01');
  const list = (name: RestrictionList, action: 'Allow' | 'Deny' | undefined) => {
    const entries = site[name].map((e) => structuredClone(e));
    return [...entries, implicitRestriction(action ?? (entries.length > 0 ? 'Deny' : 'Allow'))];
  };
  const p: Record<string, unknown> = {
    numberOfWorkers: 1,
    defaultDocuments: [
      'Default.htm',
      'Default.html',
      'Default.asp',
      'index.htm',
      'index.html',
      'iisstart.htm',
      'default.aspx',
      'index.php',
      'hostingstart.html',
    ],
    netFrameworkVersion: 'v4.0',
    phpVersion: '',
    pythonVersion: '',
    nodeVersion: '',
    powerShellVersion: '',
    linuxFxVersion: '',
    windowsFxVersion: null,
    requestTracingEnabled: false,
    remoteDebuggingEnabled: false,
    remoteDebuggingVersion: null,
    httpLoggingEnabled: false,
    azureMonitorLogCategories: null,
    acrUseManagedIdentityCreds: false,
    acrUserManagedIdentityID: null,
    logsDirectorySizeLimit: 35,
    detailedErrorLoggingEnabled: false,
    publishingUsername: `$${site.ref.name}`,
    publishingPassword: null,
    appSettings: null,
    metadata: null,
    connectionStrings: null,
    machineKey: null,
    handlerMappings: null,
    documentRoot: null,
    scmType: 'None',
    use32BitWorkerProcess: true,
    webSocketsEnabled: false,
    alwaysOn: false,
    javaVersion: null,
    javaContainer: null,
    javaContainerVersion: null,
    appCommandLine: '',
    managedPipelineMode: 'Integrated',
    virtualApplications: [
      { virtualPath: '/', physicalPath: 'site\\wwwroot', preloadEnabled: false, virtualDirectories: null },
    ],
    winAuthAdminState: 0,
    winAuthTenantState: 0,
    customAppPoolIdentityAdminState: false,
    customAppPoolIdentityTenantState: false,
    runtimeADUser: null,
    runtimeADUserPassword: null,
    loadBalancing: 'LeastRequests',
    routingRules: [],
    experiments: { rampUpRules: [] },
    limits: null,
    autoHealEnabled: false,
    autoHealRules: null,
    tracingOptions: null,
    vnetName: '',
    vnetRouteAllEnabled: false,
    vnetPrivatePortsCount: 0,
    publicNetworkAccess: null,
    cors: null,
    push: null,
    apiDefinition: null,
    apiManagementConfig: null,
    autoSwapSlotName: null,
    localMySqlEnabled: false,
    managedServiceIdentityId: null,
    xManagedServiceIdentityId: null,
    keyVaultReferenceIdentity: null,
    ipSecurityRestrictions: list('ipSecurityRestrictions', site.ipSecurityRestrictionsDefaultAction),
  };
  if (withDefaultAction)
    p.ipSecurityRestrictionsDefaultAction = site.ipSecurityRestrictionsDefaultAction ?? null;
  p.scmIpSecurityRestrictions = list(
    'scmIpSecurityRestrictions',
    site.scmIpSecurityRestrictionsDefaultAction,
  );
  if (withDefaultAction)
    p.scmIpSecurityRestrictionsDefaultAction = site.scmIpSecurityRestrictionsDefaultAction ?? null;
  Object.assign(p, {
    scmIpSecurityRestrictionsUseMain: site.scmIpSecurityRestrictionsUseMain,
    http20Enabled: false,
    minTlsVersion: '1.2',
    scmMinTlsVersion: '1.2',
    ftpsState: 'FtpsOnly',
    preWarmedInstanceCount: 0,
    functionAppScaleLimit: 0,
    healthCheckPath: null,
    fileChangeAuditEnabled: false,
    functionsRuntimeScaleMonitoringEnabled: false,
    minimumElasticInstanceCount: 0,
    azureStorageAccounts: {},
  });
  for (const [name, value] of Object.entries(site.overrides)) p[name] = structuredClone(value);
  return {
    id: `${site.id}/config/web`,
    name: site.slot ? `${site.ref.name}/${site.slot}` : site.ref.name,
    type: site.slot ? 'Microsoft.Web/sites/slots/config' : 'Microsoft.Web/sites/config',
    location: site.location,
    properties: p,
  };
}

/** The entry App Service appends after the rules: what happens to traffic no rule matched. */
function implicitRestriction(action: 'Allow' | 'Deny'): Record<string, unknown> {
  const word = action === 'Allow' ? 'Allow' : 'Deny';
  return {
    ipAddress: 'Any',
    action,
    priority: IMPLICIT_RESTRICTION_PRIORITY,
    name: `${word} all`,
    description: `${word} all access`,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Errors and validation

/** App Service's own error envelope (PascalCase, not ARM's `{error:{…}}`). */
class WebFailure extends ArmFailure {
  constructor(
    status: number,
    code: string,
    readonly extendedCode: string,
    readonly template: string,
    readonly parameters: string[],
  ) {
    super(
      status,
      code,
      parameters.reduce((text, p, i) => text.replace(`{${i}}`, p), template),
    );
  }

  override reply(): Reply {
    const body = {
      Code: this.code,
      Message: this.message,
      Target: null,
      Details: [
        { Message: this.message },
        { Code: this.code },
        {
          ErrorEntity: {
            ExtendedCode: this.extendedCode,
            MessageTemplate: this.template,
            Parameters: this.parameters,
            Code: this.code,
            Message: this.message,
          },
        },
      ],
      Innererror: null,
    };
    return { status: this.status, body, headers: { ...WEB_RESPONSE_HEADERS } };
  }
}

/** A 400 whose message is fixed text (ExtendedCode 51021 and the wording of most of these are invented). */
function restrictionInvalid(message: string): WebFailure {
  return new WebFailure(400, 'BadRequest', '51021', '{0}', [message]);
}

function isCidr(text: string): boolean {
  return text.includes('/') && parsePrefix(text) !== undefined;
}

/** Validates one IpSecurityRestriction as App Service does, returning it in the order App Service writes it. */
function readRestriction(raw: unknown): Record<string, unknown> {
  if (!isRecord(raw)) throw restrictionInvalid('IpSecurityRestriction is invalid. It must be an object.');
  const ipAddress = raw.ipAddress;
  const subnet = raw.vnetSubnetResourceId;
  const hasIp = typeof ipAddress === 'string' && ipAddress !== '';
  const hasSubnet = typeof subnet === 'string' && subnet !== '';
  if (hasIp === hasSubnet) {
    throw restrictionInvalid(
      'IpSecurityRestriction is invalid. Only IpAddress or VnetSubnetResourceId property must be specified.',
    );
  }
  for (const field of ['name', 'description', 'subnetMask', 'tag', 'action'] as const) {
    const value = raw[field];
    if (value !== undefined && value !== null && typeof value !== 'string') {
      throw restrictionInvalid(`IpSecurityRestriction.${capitalize(field)} is invalid. It must be a string.`);
    }
  }
  if (typeof raw.name === 'string' && raw.name.length > MAX_RESTRICTION_NAME) {
    throw restrictionInvalid(
      `IpSecurityRestriction.Name is invalid. It can be at most ${MAX_RESTRICTION_NAME} characters long.`,
    );
  }
  const tag = typeof raw.tag === 'string' ? raw.tag : undefined;
  if (tag !== undefined && !RESTRICTION_TAGS.includes(tag)) {
    throw restrictionInvalid(
      `IpSecurityRestriction.Tag is invalid. Allowed values: ${RESTRICTION_TAGS.join(', ')}.`,
    );
  }
  const action = typeof raw.action === 'string' ? raw.action : 'Allow';
  if (action !== 'Allow' && action !== 'Deny') {
    throw restrictionInvalid(`IpSecurityRestriction.Action is invalid. Allowed values: Allow, Deny.`);
  }
  const priority = raw.priority;
  if (
    priority !== undefined &&
    priority !== null &&
    (typeof priority !== 'number' || !Number.isInteger(priority))
  ) {
    throw restrictionInvalid('IpSecurityRestriction.Priority is invalid. It must be an integer.');
  }
  if (hasIp) checkRestrictionAddress(ipAddress, tag, raw.subnetMask);
  if (hasSubnet && !SUBNET_ID.test(subnet)) {
    throw restrictionInvalid(
      'IpSecurityRestriction.VnetSubnetResourceId is invalid. It must be the resource id of a subnet.',
    );
  }
  checkRestrictionHeaders(raw.headers);
  return inWireOrder({ ...raw, action }, RESTRICTION_ORDER);
}

function checkRestrictionAddress(ipAddress: string, tag: string | undefined, subnetMask: unknown): void {
  const entries = ipAddress.split(',').map((e) => e.trim());
  if (entries.length > MAX_RESTRICTION_SOURCES) {
    throw restrictionInvalid(
      `IpSecurityRestriction.IpAddress is invalid. A rule can contain at most ${MAX_RESTRICTION_SOURCES} ` +
        `IP ranges or service tags.`,
    );
  }
  if (tag === 'ServiceTag') {
    const bad = entries.find((e) => e === '*' || !isServiceTag(e));
    if (bad !== undefined) {
      throw restrictionInvalid(
        `IpSecurityRestriction.IpAddress is invalid. '${bad}' is not a valid service tag.`,
      );
    }
    return;
  }
  if (entries.length === 1 && entries[0]?.toLowerCase() === 'any') return;
  const maskedAddress = entries.length === 1 && typeof subnetMask === 'string' && isIPv4(entries[0] ?? '');
  if (maskedAddress) {
    if (!isIPv4(subnetMask)) {
      throw restrictionInvalid('IpSecurityRestriction.SubnetMask is invalid. It must be an IPv4 mask.');
    }
    return;
  }
  if (!entries.every(isCidr)) {
    throw restrictionInvalid('IpSecurityRestriction.IpAddress is invalid. It must be in CIDR format.');
  }
}

function checkRestrictionHeaders(headers: unknown): void {
  if (headers === undefined || headers === null) return;
  if (!isRecord(headers)) throw restrictionInvalid('IpSecurityRestriction.Headers is invalid.');
  for (const [name, values] of Object.entries(headers)) {
    if (!RESTRICTION_HEADERS.includes(name.toLowerCase())) {
      throw restrictionInvalid(
        `IpSecurityRestriction.Headers is invalid. Header '${name}' is not supported. Supported headers: ` +
          `${RESTRICTION_HEADERS.join(', ')}.`,
      );
    }
    if (!isStringArray(values) || values.length === 0 || values.length > MAX_RESTRICTION_SOURCES) {
      throw restrictionInvalid(
        `IpSecurityRestriction.Headers is invalid. Header '${name}' must have between 1 and ` +
          `${MAX_RESTRICTION_SOURCES} values.`,
      );
    }
  }
}

function readRestrictionList(value: unknown, list: RestrictionList): Array<Record<string, unknown>> {
  if (!Array.isArray(value)) throw restrictionInvalid(`${capitalize(list)} is invalid. It must be an array.`);
  if (value.length > MAX_ACCESS_RESTRICTIONS) {
    throw restrictionInvalid(
      `${capitalize(list)} is invalid. There's a limit of ${MAX_ACCESS_RESTRICTIONS} access restriction rules; ` +
        `the request has ${value.length}.`,
    );
  }
  return value.map(readRestriction);
}

function readDefaultAction(value: unknown, name: string): 'Allow' | 'Deny' {
  if (value !== 'Allow' && value !== 'Deny') {
    throw restrictionInvalid(`${capitalize(name)} is invalid. Allowed values: Allow, Deny.`);
  }
  return value;
}
