/** The parts of an Azure resource ID: `/subscriptions/{s}/resourceGroups/{rg}/providers/{ns}/{type}/{name}[/{child}/{name}]`. */
export interface ResourceId {
  id: string;
  subscriptionId: string;
  resourceGroup: string;
  /** Names after the provider namespace, in order: e.g. `['backend', 'allow-apim']` for an NSG rule. */
  names: string[];
}

export function parseResourceId(id: string): ResourceId {
  const parts = id.split('/');
  // ['', 'subscriptions', s, 'resourceGroups', rg, 'providers', ns, type, name, (childType, childName)...]
  if (parts.length < 9 || parts.length % 2 === 0 || parts[1]?.toLowerCase() !== 'subscriptions') {
    throw new Error(`not an Azure resource ID: ${id}`);
  }
  const names: string[] = [];
  for (let i = 8; i < parts.length; i += 2) names.push(decodeURIComponent(parts[i] as string));
  return { id, subscriptionId: parts[2] as string, resourceGroup: parts[4] as string, names };
}
