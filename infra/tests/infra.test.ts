/**
 * Checks what the real Bicep compiler made of infra/ (run by scripts/check-infra.js, which writes it to
 * INFRA_BUILD_DIR):
 * - main.json, the compiled ARM template: what holds for every parameter value (no broad role anywhere, every
 *   role assignment scoped to one resource, the custom roles' exact actions);
 * - <name>.snapshot.json, the deployment the compiler predicts for infra/tests/<name>.bicepparam: the concrete
 *   role assignments, role definitions, app settings, alerts and workbook for those values.
 * What only Azure knows (principal and client IDs, endpoints) stays an expression in the snapshot; those are
 * checked for pointing at the right resource.
 */
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { EVENT, GUARD, RUN_OUTCOMES } from '../../lib/telemetry/events';
import { SETTINGS, SETTING_DOCS } from '../../lib/config/settings';

type Json = Record<string, unknown>;

interface PredictedResource {
  id: string;
  type: string;
  name: string;
  condition?: string;
  location?: string;
  kind?: string;
  identity?: Json;
  sku?: Json;
  properties?: Json;
}

interface Snapshot {
  predictedResources: PredictedResource[];
  diagnostics: unknown[];
  outputs: Json;
}

const buildDir = process.env.INFRA_BUILD_DIR ?? join(__dirname, '..', '..', '.tools', 'infra-build');

function readJson<T>(file: string): T {
  const full = join(buildDir, file);
  if (!existsSync(full)) {
    throw new Error(`${full} is missing: these tests run from scripts/check-infra.js (npm run check:infra)`);
  }
  return JSON.parse(readFileSync(full, 'utf8')) as T;
}

const template = readJson<Json>('main.json');
const templateText = JSON.stringify(template);
const context = readJson<{ subscriptionId: string }>('context.json');
const sample = readJson<Snapshot>('sample.snapshot.json');
const minimal = readJson<Snapshot>('minimal.snapshot.json');
const sampleParameters = readJson<{ parameters: Record<string, { value: unknown }> }>(
  'sample.parameters.json',
);

// ---- reference values, written here independently of the Bicep ---------------------------------------

const ROLE = {
  apiManagementServiceReader: '71522526-b88f-4d52-b57f-d31fc3546d0d',
  monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb',
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b',
  storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3',
  keyVaultSecretsUser: '4633458b-17de-408a-b874-0445c86b69e6',
};

/** Broad built-in roles the reconciler must never hold. */
const FORBIDDEN_ROLES: Record<string, string> = {
  Owner: '8e3af657-a8ff-443c-a75c-2fe8c4bcb635',
  Contributor: 'b24988ac-6180-42a0-ab88-20f7382dd24c',
  'Network Contributor': '4d97b98b-1d4f-4787-a291-c67834d212e7',
  'User Access Administrator': '18d7d88d-d35e-4fb5-a5c3-7773c20a72d9',
  'Role Based Access Control Administrator': 'f58310d9-a9f6-439a-9e8d-f62e7b41a168',
  Reader: 'acdd72a7-3385-48ef-bd42-f606fba81ae7',
  'Website Contributor': 'de139f84-1756-47ae-9be6-808fbbe84772',
  'Storage Account Contributor': '17d1049b-9a84-46fb-8f53-869881c3d3ab',
  'Key Vault Administrator': '00482a5a-887f-4fb3-b363-3b7fe8e74483',
};

const CUSTOM_ACTIONS: Record<string, string[]> = {
  'Microsoft.Network/networkSecurityGroups': [
    'Microsoft.Network/networkSecurityGroups/read',
    'Microsoft.Network/networkSecurityGroups/securityRules/read',
    'Microsoft.Network/networkSecurityGroups/securityRules/write',
  ],
  'Microsoft.Network/ipGroups': ['Microsoft.Network/ipGroups/read', 'Microsoft.Network/ipGroups/write'],
  'Microsoft.Network/firewallPolicies': [
    'Microsoft.Network/firewallPolicies/read',
    'Microsoft.Network/firewallPolicies/ruleCollectionGroups/read',
    'Microsoft.Network/firewallPolicies/ruleCollectionGroups/write',
  ],
  'Microsoft.Web/sites': [
    'Microsoft.Web/sites/Read',
    'Microsoft.Web/sites/config/Read',
    'Microsoft.Web/sites/config/Write',
  ],
};

/** Settings the code reads only on a laptop or against emulators: never set in Azure. */
const LOCAL_ONLY = new Set<string>([
  SETTINGS.azureToken,
  SETTINGS.configFile,
  SETTINGS.cloudflareBaseUrl,
  SETTINGS.armEndpoint,
  SETTINGS.maxConcurrency,
]);
/** Of those, the ones that would point the app at an emulator or a static token: must be absent in Azure. */
const NEVER_IN_AZURE = [
  SETTINGS.azureToken,
  SETTINGS.configFile,
  SETTINGS.cloudflareBaseUrl,
  SETTINGS.armEndpoint,
];

/** Event properties of docs/design/product.md §7 (events.ts exports the event names, not the property names). */
const EVENT_PROPERTIES = new Set([
  'runId',
  'trigger',
  'mode',
  'outcome',
  'durationMs',
  'source',
  'provisioningState',
  'sku',
  'target',
  'targetType',
  'resource',
  'action',
  'before',
  'after',
  'result',
  'error',
  'reason',
  'detail',
]);

const EVENT_NAMES: readonly string[] = Object.values(EVENT);

// ---- helpers ------------------------------------------------------------------------------------------

/** Every string literal of a KQL query ("..." or '...'). */
function kqlStrings(query: string): string[] {
  return [...query.matchAll(/"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)'/g)].map((m) => m[1] ?? m[2] ?? '');
}

/** The event names a KQL query filters on: literals compared with `name`, and any Reconcile.* literal. */
function eventNamesIn(query: string): string[] {
  const names = new Set<string>();
  for (const m of query.matchAll(/\bname\s*(?:==|=~|!=|has|contains|startswith)\s*("[^"]*"|'[^']*')/g)) {
    names.add(m[1]!.slice(1, -1));
  }
  for (const m of query.matchAll(/\bname\s+(?:!?in~?)\s*\(([^)]*)\)/g)) {
    kqlStrings(m[1]!).forEach((s) => names.add(s));
  }
  kqlStrings(query)
    .filter((s) => /^[A-Z][A-Za-z]+\.[A-Z][A-Za-z]+$/.test(s))
    .forEach((s) => names.add(s));
  return [...names];
}

function unknownEvents(query: string): string[] {
  return eventNamesIn(query).filter((name) => !EVENT_NAMES.includes(name));
}

function propertiesIn(query: string): string[] {
  return [...query.matchAll(/custom(?:Dimensions|Measurements)\.([A-Za-z_]\w*)/g)].map((m) => m[1]!);
}

function ofType(snapshot: Snapshot, type: string): PredictedResource[] {
  return snapshot.predictedResources.filter((r) => r.type.toLowerCase() === type.toLowerCase());
}

function one(snapshot: Snapshot, type: string): PredictedResource {
  const found = ofType(snapshot, type);
  expect(found).toHaveLength(1);
  return found[0]!;
}

function props(resource: PredictedResource): Json {
  return resource.properties ?? {};
}

interface Assignment {
  scope: string;
  roleGuid: string;
  roleDefinitionId: string;
  principalId: string;
  principalType: unknown;
  name: string;
}

/** A role assignment's scope: the first argument of the extensionResourceId() its ID is. */
function assignments(snapshot: Snapshot): Assignment[] {
  return ofType(snapshot, 'Microsoft.Authorization/roleAssignments').map((r) => {
    const scope = /^\[extensionResourceId\('([^']+)', 'Microsoft\.Authorization\/roleAssignments'/.exec(r.id);
    if (!scope) throw new Error(`role assignment without a resource scope: ${r.id}`);
    const p = props(r);
    const roleDefinitionId = String(p.roleDefinitionId);
    return {
      scope: scope[1]!,
      roleGuid: roleDefinitionId.split('/').pop()!.toLowerCase(),
      roleDefinitionId,
      principalId: String(p.principalId),
      principalType: p.principalType,
      name: r.name,
    };
  });
}

function subscriptionOf(id: string): string {
  return id.split('/')[2]!.toLowerCase();
}

function resourceGroupIdOf(id: string): string {
  const parts = id.split('/');
  return `/subscriptions/${parts[2]}/resourceGroups/${parts[4]}`.toLowerCase();
}

function typeOf(id: string): string {
  const parts = id.split('/providers/')[1]!.split('/');
  return `${parts[0]}/${parts[1]}`;
}

/** Every resource of a compiled template and of the templates nested in it. */
function compiledResources(node: Json): Json[] {
  const own = node.resources;
  const list = (Array.isArray(own) ? own : Object.values(own ?? {})) as Json[];
  return list.flatMap((resource) => {
    const nested = (resource.properties as Json | undefined)?.template as Json | undefined;
    return [resource, ...(nested ? compiledResources(nested) : [])];
  });
}

const identity = one(sample, 'Microsoft.ManagedIdentity/userAssignedIdentities');
const storage = one(sample, 'Microsoft.Storage/storageAccounts');
const appInsights = one(sample, 'Microsoft.Insights/components');
const vault = one(sample, 'Microsoft.KeyVault/vaults');
const site = one(sample, 'Microsoft.Web/sites');
const param = (name: string): unknown => sampleParameters.parameters[name]?.value;
const sampleIds = (name: string): string[] => param(name) as string[];

// ---- the compiled template, whatever the parameters ----------------------------------------------------

describe('compiled template (main.json)', () => {
  test('evaluates the sample parameter files without a diagnostic', () => {
    expect(sample.diagnostics).toEqual([]);
    expect(minimal.diagnostics).toEqual([]);
  });

  test('names no broad built-in role anywhere', () => {
    for (const [role, guid] of Object.entries(FORBIDDEN_ROLES)) {
      expect({ role, present: templateText.toLowerCase().includes(guid) }).toEqual({ role, present: false });
    }
  });

  test('scopes every role assignment to one resource, never to a resource group or subscription', () => {
    const roleAssignments = compiledResources(template).filter(
      (r) => r.type === 'Microsoft.Authorization/roleAssignments',
    );
    expect(roleAssignments.length).toBeGreaterThanOrEqual(9);
    for (const assignment of roleAssignments) {
      expect(String(assignment.scope)).toMatch(
        /^\[resourceId\('Microsoft\.(?!Resources\/)[A-Za-z]+\/[A-Za-z]+'/,
      );
    }
  });

  test('defines custom roles with exactly the allowed actions and no wildcard', () => {
    const customRoles = (template.variables as Json).customRoles as Record<string, { actions: string[] }>;
    expect(Object.fromEntries(Object.entries(customRoles).map(([k, v]) => [k, v.actions]))).toEqual({
      nsgRuleWriter: CUSTOM_ACTIONS['Microsoft.Network/networkSecurityGroups'],
      ipGroupWriter: CUSTOM_ACTIONS['Microsoft.Network/ipGroups'],
      firewallPolicyRuleWriter: CUSTOM_ACTIONS['Microsoft.Network/firewallPolicies'],
      siteAccessRestrictionWriter: CUSTOM_ACTIONS['Microsoft.Web/sites'],
    });
    // One role definition resource, in the custom-role module, used once per target type.
    const definitions = compiledResources(template).filter(
      (r) => r.type === 'Microsoft.Authorization/roleDefinitions',
    );
    expect(definitions).toHaveLength(4);
    for (const definition of definitions) {
      expect((definition.properties as Json).permissions).toEqual([
        { actions: "[parameters('actions')]", notActions: [], dataActions: [], notDataActions: [] },
      ]);
    }
    const resources = template.resources as Record<string, Json>;
    const actionsPassed = (module: string): unknown =>
      (((resources[module]!.properties as Json).parameters as Json).actions as Json).value;
    expect(actionsPassed('nsgRole')).toBe("[variables('customRoles').nsgRuleWriter.actions]");
    expect(actionsPassed('ipGroupRole')).toBe("[variables('customRoles').ipGroupWriter.actions]");
    expect(actionsPassed('firewallPolicyRole')).toBe(
      "[variables('customRoles').firewallPolicyRuleWriter.actions]",
    );
    expect(actionsPassed('siteRole')).toBe("[variables('customRoles').siteAccessRestrictionWriter.actions]");
    for (const role of Object.values(customRoles)) {
      expect(role.actions.filter((action) => action.includes('*'))).toEqual([]);
    }
  });

  test('keeps the built-in role GUIDs in one place, as the reference values', () => {
    expect((template.variables as Json).builtInRoles).toEqual(ROLE);
  });

  test('never inlines the Cloudflare token', () => {
    const secrets = compiledResources(template).filter((r) => r.type === 'Microsoft.KeyVault/vaults/secrets');
    expect(secrets).toHaveLength(1);
    expect((secrets[0]!.properties as Json).value).toBe("[parameters('cloudflareApiToken')]");
    expect(templateText).not.toContain(String(param('cloudflareApiToken')));
  });
});

// ---- least privilege for the sample values -------------------------------------------------------------

describe('role assignments (sample: 2 APIMs in 2 subscriptions, 1 NSG, 1 IP group, 1 firewall policy, 1 site)', () => {
  const sampleAssignments = assignments(sample);
  const definitions = ofType(sample, 'Microsoft.Authorization/roleDefinitions');
  const customGuid = (targetId: string): string => {
    const found = sampleAssignments.find((a) => a.scope.toLowerCase() === targetId.toLowerCase());
    if (!found) throw new Error(`no role assignment on ${targetId}`);
    return found.roleGuid;
  };

  test('are exactly the least-privilege set', () => {
    const expected = [
      ...sampleIds('sourceApimIds').map((id) => [id, ROLE.apiManagementServiceReader]),
      ...[
        ...sampleIds('targetNsgIds'),
        ...sampleIds('targetIpGroupIds'),
        ...sampleIds('targetFirewallPolicyIds'),
        ...sampleIds('targetSiteIds'),
      ].map((id) => [id, customGuid(id)]),
      [storage.id, ROLE.storageBlobDataOwner],
      [storage.id, ROLE.storageTableDataContributor],
      [appInsights.id, ROLE.monitoringMetricsPublisher],
      [vault.id, ROLE.keyVaultSecretsUser],
    ].map(([scope, role]) => `${role} @ ${scope!.toLowerCase()}`);
    const actual = sampleAssignments.map((a) => `${a.roleGuid} @ ${a.scope.toLowerCase()}`);
    expect(actual.sort()).toEqual(expected.sort());
    expect(new Set(sampleIds('sourceApimIds').map(subscriptionOf)).size).toBe(2);
  });

  test('go to the reconciler identity only, as a service principal, named guid(scope, principal, role)', () => {
    const principal = `[reference('${identity.id}', '2024-11-30').principalId]`;
    for (const a of sampleAssignments) {
      expect(a.principalId).toBe(principal);
      expect(a.principalType).toBe('ServicePrincipal');
      expect(a.name).toContain(a.scope);
      expect(a.name).toContain('.principalId');
      expect(a.name).toContain(a.roleGuid);
    }
  });

  test('refer to role definitions in the subscription of the resource they are assigned on', () => {
    for (const a of sampleAssignments) {
      expect(a.roleDefinitionId).toBe(
        `/subscriptions/${subscriptionOf(a.scope)}/providers/Microsoft.Authorization/roleDefinitions/${a.roleGuid}`,
      );
      expect(Object.values(FORBIDDEN_ROLES)).not.toContain(a.roleGuid);
    }
  });

  test("use one custom role per target type, holding exactly that type's actions", () => {
    const targets = [
      ...sampleIds('targetNsgIds'),
      ...sampleIds('targetIpGroupIds'),
      ...sampleIds('targetFirewallPolicyIds'),
      ...sampleIds('targetSiteIds'),
    ];
    expect(definitions).toHaveLength(4);
    for (const target of targets) {
      const definition = definitions.find((d) => d.name === customGuid(target));
      expect(definition).toBeDefined();
      const p = props(definition!);
      expect(p.type).toBe('CustomRole');
      expect(p.permissions).toEqual([
        { actions: CUSTOM_ACTIONS[typeOf(target)], notActions: [], dataActions: [], notDataActions: [] },
      ]);
      expect(JSON.stringify(p.permissions)).not.toContain('*');
      // Assignable where its targets are: their resource groups, not a subscription or the tenant root.
      expect(p.assignableScopes).toEqual([resourceGroupIdOf(target)]);
      // Defined at subscription scope, in the subscription of its (first) target.
      expect(definition!.id).toBe(
        `/subscriptions/${subscriptionOf(target)}/providers/Microsoft.Authorization/roleDefinitions/${definition!.name}`,
      );
    }
  });

  test('hold nothing at subscription or resource group scope', () => {
    for (const a of sampleAssignments) {
      expect(a.scope).toMatch(/\/providers\/Microsoft\.(?!Resources\/)[A-Za-z]+\/[A-Za-z]+\/[^/]+$/);
    }
  });

  test('without Azure targets there is no custom role at all', () => {
    expect(ofType(minimal, 'Microsoft.Authorization/roleDefinitions')).toHaveLength(0);
    const roles = assignments(minimal).map((a) => a.roleGuid);
    expect(roles.sort()).toEqual(
      [
        ROLE.apiManagementServiceReader,
        ROLE.storageBlobDataOwner,
        ROLE.storageTableDataContributor,
        ROLE.monitoringMetricsPublisher,
        ROLE.keyVaultSecretsUser,
      ].sort(),
    );
  });
});

// ---- the Function App ----------------------------------------------------------------------------------

describe('function app', () => {
  const settings = props(one(sample, 'Microsoft.Web/sites/config')) as Record<string, string>;
  const identityRef = (property: string): string => `reference('${identity.id}', '2024-11-30').${property}`;

  test('sets every setting the code reads in Azure, and no local-only one', () => {
    const inAzure = Object.values(SETTINGS).filter((name) => !LOCAL_ONLY.has(name));
    expect(inAzure.filter((name) => !(name in settings))).toEqual([]);
    expect(NEVER_IN_AZURE.filter((name) => name in settings)).toEqual([]);
    const requiredInAzure = SETTING_DOCS.filter((d) => d.required === 'in Azure' || d.required === 'always');
    expect(requiredInAzure.filter((d) => !(d.name in settings))).toEqual([]);
  });

  test('passes the configuration, schedule and mode through', () => {
    expect(JSON.parse(settings[SETTINGS.config]!)).toEqual(param('reconcilerConfig'));
    expect(settings[SETTINGS.schedule]).toBe('0 */5 * * * *');
    expect(settings[SETTINGS.mode]).toBe('enforce');
    expect(settings[SETTINGS.stateContainer]).toBe('apim-ip-reconciler');
    const minimalSettings = props(one(minimal, 'Microsoft.Web/sites/config')) as Record<string, string>;
    expect(minimalSettings[SETTINGS.mode]).toBe('observe');
    expect(minimalSettings[SETTINGS.schedule]).toBe('0 0 * * * *');
  });

  test('authenticates everything with the user-assigned identity', () => {
    expect(settings[SETTINGS.azureClientId]).toBe(`[${identityRef('clientId')}]`);
    expect(settings[SETTINGS.appInsightsAuthenticationString]).toBe(
      `[format('Authorization=AAD;ClientId={0}', ${identityRef('clientId')})]`,
    );
    expect(settings[SETTINGS.appInsightsConnectionString]).toBe(
      `[reference('${appInsights.id}', '2020-02-02').ConnectionString]`,
    );
    expect(settings.AzureWebJobsStorage__credential).toBe('managedidentity');
    expect(settings.AzureWebJobsStorage__clientId).toBe(`[${identityRef('clientId')}]`);
    for (const service of ['blob', 'queue', 'table']) {
      expect(settings[`AzureWebJobsStorage__${service}ServiceUri`]).toBe(
        `[reference('${storage.id}', '2026-06-01').primaryEndpoints.${service}]`,
      );
    }
    expect(
      Object.keys(settings).filter((k) => /^AzureWebJobsStorage$|ConnectionString$|AccountKey/i.test(k)),
    ).toEqual([]);
  });

  test('reads the Cloudflare token through a Key Vault reference resolved by the identity', () => {
    const reference = settings[SETTINGS.cloudflareToken]!;
    expect(reference).toMatch(/^\[format\('@Microsoft\.KeyVault\(SecretUri=\{0\}\)'/);
    expect(reference).toContain(`reference('${vault.id}'`);
    expect(reference).toContain('secrets/{1}');
    expect(reference).toContain("'cloudflare-api-token'");
    expect(props(site).keyVaultReferenceIdentity).toBe(identity.id);
    const secret = one(sample, 'Microsoft.KeyVault/vaults/secrets');
    expect(secret.name).toBe(`${vault.name}/cloudflare-api-token`);
    expect(props(secret).value).toBe("[parameters('cloudflareApiToken')]");
  });

  test('runs on Flex Consumption, Node.js 20, deploying from its storage with the identity', () => {
    expect(site.kind).toBe('functionapp,linux');
    expect(site.identity).toEqual({ type: 'UserAssigned', userAssignedIdentities: { [identity.id]: {} } });
    const config = props(site).functionAppConfig as Json;
    expect(config.runtime).toEqual({ name: 'node', version: '20' });
    const deployment = (config.deployment as Json).storage as Json;
    expect(deployment.type).toBe('blobContainer');
    expect(deployment.authentication).toEqual({
      type: 'UserAssignedIdentity',
      userAssignedIdentityResourceId: identity.id,
    });
    expect(one(sample, 'Microsoft.Web/serverfarms').sku).toEqual({ tier: 'FlexConsumption', name: 'FC1' });
    expect((site as { tags?: Json } & PredictedResource).tags).toMatchObject({
      'azd-service-name': 'reconciler',
    });
  });

  test('has no shared keys or local auth anywhere', () => {
    expect(props(storage).allowSharedKeyAccess).toBe(false);
    expect(props(appInsights).DisableLocalAuth).toBe(true);
    expect(props(vault).enableRbacAuthorization).toBe(true);
    expect(props(vault).enablePurgeProtection).toBe(true);
    const containers = ofType(sample, 'Microsoft.Storage/storageAccounts/blobServices/containers').map((c) =>
      c.name.split('/').pop(),
    );
    expect(containers).toContain('apim-ip-reconciler');
    expect(containers.some((c) => c!.startsWith('app-package-'))).toBe(true);
  });

  test('is deployed in the deployment subscription', () => {
    expect(subscriptionOf(site.id)).toBe(context.subscriptionId);
  });
});

// ---- alerts and workbook -------------------------------------------------------------------------------

describe('alerts', () => {
  const rules = ofType(sample, 'Microsoft.Insights/scheduledQueryRules');
  const rule = (suffix: string): Json => {
    const found = rules.find((r) => r.name.endsWith(`-${suffix}`));
    if (!found) throw new Error(`no alert rule ${suffix}`);
    return props(found);
  };
  const criterion = (suffix: string): Json => ((rule(suffix).criteria as Json).allOf as Json[])[0]!;
  const query = (suffix: string): string => String(criterion(suffix).query);
  const actionGroup = one(sample, 'Microsoft.Insights/actionGroups');

  test('the event-name check can fail', () => {
    expect(unknownEvents('customEvents | where name == "Reconcile.Started"')).toEqual(['Reconcile.Started']);
    expect(unknownEvents("customEvents | where name in ('Reconcile.Run', 'Run.Failed')")).toEqual([
      'Run.Failed',
    ]);
    expect(unknownEvents(`customEvents | where name == "${EVENT.run}"`)).toEqual([]);
  });

  test('are the four of docs/design/product.md §7, on Application Insights, notifying the e-mail action group', () => {
    expect(
      rules
        .map((r) => r.name.replace(/^.*-(run-failed|guard-blocked|change-applied|dead-man)$/, '$1'))
        .sort(),
    ).toEqual(['change-applied', 'dead-man', 'guard-blocked', 'run-failed']);
    for (const r of rules) {
      expect(r.kind).toBe('LogAlert');
      expect(props(r).scopes).toEqual([appInsights.id]);
      expect(props(r).actions).toEqual({ actionGroups: [actionGroup.id] });
      expect(props(r).enabled).toBe(true);
    }
    expect(props(actionGroup).emailReceivers).toEqual([
      expect.objectContaining({ emailAddress: param('alertEmailAddress') }),
    ]);
  });

  test('name only events and properties of lib/telemetry/events.ts', () => {
    for (const r of rules) {
      const q = String(((props(r).criteria as Json).allOf as Json[])[0]!.query);
      expect(q).toMatch(/^\s*customEvents\b/);
      expect({ rule: r.name, unknown: unknownEvents(q) }).toEqual({ rule: r.name, unknown: [] });
      expect(propertiesIn(q).filter((p) => !EVENT_PROPERTIES.has(p))).toEqual([]);
    }
  });

  test('run failed or partial', () => {
    expect(eventNamesIn(query('run-failed'))).toEqual([EVENT.run]);
    const outcomes = kqlStrings(query('run-failed')).filter((s) => !EVENT_NAMES.includes(s));
    expect(outcomes.sort()).toEqual(['failed', 'partial']);
    outcomes.forEach((o) => expect(RUN_OUTCOMES).toContain(o));
    expect(criterion('run-failed')).toMatchObject({ operator: 'GreaterThan', threshold: 0 });
    expect(rule('run-failed').severity).toBeLessThanOrEqual(2);
  });

  test('a guard blocked a change', () => {
    expect(eventNamesIn(query('guard-blocked'))).toEqual([EVENT.blocked]);
    expect(propertiesIn(query('guard-blocked'))).toEqual(
      expect.arrayContaining(['reason', 'target', 'source']),
    );
    // Every guard counts: the query does not filter on a reason.
    Object.values(GUARD).forEach((code) => expect(query('guard-blocked')).not.toContain(code));
    expect(criterion('guard-blocked')).toMatchObject({ operator: 'GreaterThan', threshold: 0 });
  });

  test('a change was applied (informational)', () => {
    expect(eventNamesIn(query('change-applied'))).toEqual([EVENT.change]);
    expect(query('change-applied')).toMatch(/customDimensions\.result\)\s*==\s*"applied"/);
    expect(rule('change-applied').severity).toBe(4);
    expect(criterion('change-applied')).toMatchObject({ operator: 'GreaterThan', threshold: 0 });
  });

  test('dead man: no run for 3 schedule intervals', () => {
    expect(eventNamesIn(query('dead-man'))).toEqual([EVENT.run]);
    expect(criterion('dead-man')).toMatchObject({
      timeAggregation: 'Count',
      operator: 'LessThan',
      threshold: 1,
    });
    expect(rule('dead-man').windowSize).toBe('PT15M');
    const minimalDeadMan = ofType(minimal, 'Microsoft.Insights/scheduledQueryRules').find((r) =>
      r.name.endsWith('-dead-man'),
    );
    expect(props(minimalDeadMan!).windowSize).toBe('PT3H');
  });
});

describe('workbook', () => {
  const workbook = one(sample, 'Microsoft.Insights/workbooks');
  const data = JSON.parse(String(props(workbook).serializedData)) as {
    items: Json[];
    fallbackResourceIds: string[];
  };
  const queries = data.items
    .filter((item) => item.type === 3)
    .map((item) => String((item.content as Json).query));

  test('is linked to Application Insights', () => {
    expect(props(workbook).sourceId).toBe(appInsights.id);
    expect(data.fallbackResourceIds).toEqual([appInsights.id]);
  });

  test('shows runs, IP history per source, changes and guards from events.ts events only', () => {
    const shown = new Set(queries.flatMap(eventNamesIn));
    expect([...shown].sort()).toEqual([...EVENT_NAMES].sort());
    for (const q of queries) {
      expect(unknownEvents(q)).toEqual([]);
      expect(propertiesIn(q).filter((p) => !EVENT_PROPERTIES.has(p))).toEqual([]);
    }
    expect(
      queries.some((q) => q.includes(EVENT.sourceObserved) && q.includes('customDimensions.source')),
    ).toBe(true);
  });
});

describe('azd parameters and linter configuration', () => {
  const infraDir = join(__dirname, '..');
  const templateParameters = template.parameters as Record<string, { defaultValue?: unknown }>;

  test('main.parameters.json names only real parameters, and every required one', () => {
    const file = JSON.parse(readFileSync(join(infraDir, 'main.parameters.json'), 'utf8')) as {
      parameters: Record<string, { value: string }>;
    };
    const given = Object.keys(file.parameters);
    expect(given.filter((name) => !(name in templateParameters))).toEqual([]);
    const required = Object.keys(templateParameters).filter(
      (name) => !('defaultValue' in templateParameters[name]!),
    );
    expect(required.filter((name) => !given.includes(name))).toEqual([]);
    for (const { value } of Object.values(file.parameters)) expect(value).toMatch(/^\$\{[A-Z_]+\}$/);
  });

  test('bicepconfig.json makes every linter rule an error', () => {
    const config = JSON.parse(readFileSync(join(infraDir, 'bicepconfig.json'), 'utf8')) as {
      analyzers: { core: { enabled: boolean; rules: Record<string, { level: string }> } };
    };
    expect(config.analyzers.core.enabled).toBe(true);
    const rules = Object.entries(config.analyzers.core.rules);
    expect(rules.length).toBeGreaterThanOrEqual(40);
    expect(rules.filter(([, rule]) => rule.level !== 'error').map(([name]) => name)).toEqual([]);
  });
});
