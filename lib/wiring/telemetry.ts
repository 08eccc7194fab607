import { checkResolved, SETTINGS } from '../config/settings';
import { AppInsightsRecorder, type AppInsightsRecorderOptions } from '../telemetry/appInsights';
import { ingestionCredential, userAssignedIdentity, type ManagedIdentityFactory } from './identity';

/**
 * A recorder when APPLICATIONINSIGHTS_CONNECTION_STRING is set, else undefined (typed as the class so the CLI can
 * shut it down). Ingestion authenticates as lib/wiring/identity.ts decides; the SDK's client does not read
 * APPLICATIONINSIGHTS_AUTHENTICATION_STRING itself (only its auto-attach agent and live metrics do).
 */
export function recorderFromEnvironment(
  env: NodeJS.ProcessEnv,
  credentialFor: ManagedIdentityFactory = userAssignedIdentity,
  options: Omit<AppInsightsRecorderOptions, 'connectionString' | 'credential'> = {},
): AppInsightsRecorder | undefined {
  const connectionString = env[SETTINGS.appInsightsConnectionString]?.trim();
  if (!connectionString) return undefined;
  checkResolved(SETTINGS.appInsightsConnectionString, connectionString);
  return AppInsightsRecorder.create({
    ...options,
    connectionString,
    credential: ingestionCredential(env, credentialFor),
  });
}
