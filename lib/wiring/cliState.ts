import { resolve } from 'node:path';
import { BlobServiceClient, StorageSharedKeyCredential } from '@azure/storage-blob';
import { isLoopbackUrl, SettingsError, type Settings } from '../config/settings';
import { BlobRunLock, BlobStateStore, LOCK_BLOB } from '../state/blobStore';
import { FileRunLock } from '../state/fileLock';
import { FileStateStore } from '../state/fileStore';
import type { RunLock, StateStore } from '../state/store';
import { stateBlobCredential } from './identity';

/**
 * Where the CLI keeps its state and takes its lock (docs/cli.md#state): a file (the default,
 * `.apim-ip-reconciler/state.json`), or the Functions app's own state blob, so that a run from a laptop during an
 * incident acts on the same memory of ownership as the app and waits its turn on the same lease.
 */

export type StateLocation =
  | { kind: 'file'; path: string }
  | { kind: 'blob'; serviceUrl: string; account: string; container: string; blob: string; url: string };

/** Azurite's development account: its key is published (it is what `UseDevelopmentStorage=true` means). */
const DEVELOPMENT_ACCOUNT = 'devstoreaccount1';
const DEVELOPMENT_KEY =
  'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

const CONTAINER = /^[a-z0-9](?:[a-z0-9]|-(?!-)){1,61}[a-z0-9]$/;

const FORMS =
  'https://<account>.blob.core.windows.net/<container>/<blob> (the app: …/apim-ip-reconciler/state.json), or a state file path';

/** `--state VALUE`: a URL names a blob, anything else a file (relative to `cwd`). */
export function parseStateLocation(value: string, cwd: string): StateLocation {
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) return { kind: 'file', path: resolve(cwd, value) };
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new SettingsError(`--state: ${value} is not a URL; expected ${FORMS}`);
  }
  const loopback = isLoopbackUrl(url.href);
  if (url.search || url.username || url.password) {
    throw new SettingsError(
      `--state: give the blob URL without a query or credentials (a SAS token in a command line ends up in shell history); the CLI signs in with your Azure identity (az login)`,
    );
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback)) {
    throw new SettingsError(`--state: ${url.protocol}// is not accepted; expected ${FORMS}`);
  }
  const parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
  // An emulator (Azurite) puts the account in the path: http://127.0.0.1:10000/devstoreaccount1/<container>/<blob>.
  const account = loopback ? parts.shift() : url.hostname.split('.')[0];
  const [container, ...blobPath] = parts;
  if (!account || !container || blobPath.length === 0) {
    throw new SettingsError(`--state: ${value} names no blob; expected ${FORMS}`);
  }
  if (!CONTAINER.test(container)) {
    throw new SettingsError(
      `--state: ${JSON.stringify(container)} is not a container name (3-63 lower-case letters, digits and single hyphens)`,
    );
  }
  const serviceUrl = loopback ? `${url.origin}/${account}` : url.origin;
  const blob = blobPath.join('/');
  return { kind: 'blob', serviceUrl, account, container, blob, url: `${serviceUrl}/${container}/${blob}` };
}

/** The lock blob beside a state blob: `run.lock` in the same folder, as the app keeps `state.json` and `run.lock`. */
export function lockBlobOf(stateBlob: string): string {
  const slash = stateBlob.lastIndexOf('/');
  return `${slash < 0 ? '' : stateBlob.slice(0, slash + 1)}${LOCK_BLOB}`;
}

export interface CliState {
  store: StateStore;
  lock: RunLock;
  location: StateLocation;
}

export function openCliState(location: StateLocation, settings: Settings): CliState {
  if (location.kind === 'file') {
    return { store: new FileStateStore(location.path), lock: new FileRunLock(location.path), location };
  }
  const auth = stateBlobCredential(location.serviceUrl, settings);
  let service: BlobServiceClient;
  if (auth.kind === 'token') {
    service = new BlobServiceClient(location.serviceUrl, auth.credential);
  } else {
    if (location.account !== DEVELOPMENT_ACCOUNT) {
      throw new SettingsError(
        `--state: a blob on this machine is an emulator's, and only its development account ${DEVELOPMENT_ACCOUNT} is supported (no real token is sent to a loopback address)`,
      );
    }
    service = new BlobServiceClient(
      location.serviceUrl,
      new StorageSharedKeyCredential(DEVELOPMENT_ACCOUNT, DEVELOPMENT_KEY),
    );
  }
  return {
    store: new BlobStateStore(service, { container: location.container, blob: location.blob }),
    lock: new BlobRunLock(service, { container: location.container, blob: lockBlobOf(location.blob) }),
    location,
  };
}
