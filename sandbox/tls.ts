import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { generate } from 'selfsigned';

/** A TLS identity for the sandbox's HTTPS emulators, made for one run and trusted through NODE_EXTRA_CA_CERTS. */
export interface RunCertificate {
  cert: string;
  key: string;
  certFile: string;
  keyFile: string;
}

/** Environment variables that hand a run certificate to child processes. */
export const CERT_FILE_ENV = 'SANDBOX_TLS_CERT_FILE';
export const KEY_FILE_ENV = 'SANDBOX_TLS_KEY_FILE';

export async function createRunCertificate(): Promise<RunCertificate> {
  const now = new Date();
  const pems = await generate([{ name: 'commonName', value: '127.0.0.1' }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notBeforeDate: new Date(now.getTime() - 60_000),
    notAfterDate: new Date(now.getTime() + 7 * 24 * 3600_000),
    extensions: [
      { name: 'basicConstraints', cA: true },
      { name: 'keyUsage', digitalSignature: true, keyCertSign: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: [
          { type: 7, ip: '127.0.0.1' },
          { type: 7, ip: '::1' },
          { type: 2, value: 'localhost' },
        ],
      },
    ],
  });
  const dir = mkdtempSync(join(tmpdir(), 'apim-ip-reconciler-tls-'));
  const certFile = join(dir, 'cert.pem');
  const keyFile = join(dir, 'key.pem');
  writeFileSync(certFile, pems.cert);
  writeFileSync(keyFile, pems.private, { mode: 0o600 });
  return { cert: pems.cert, key: pems.private, certFile, keyFile };
}

/**
 * The certificate this process was started to trust (NODE_EXTRA_CA_CERTS is read at process start),
 * or undefined when the process was not started that way.
 */
export function inheritedRunCertificate(env: NodeJS.ProcessEnv = process.env): RunCertificate | undefined {
  const certFile = env[CERT_FILE_ENV];
  const keyFile = env[KEY_FILE_ENV];
  if (!certFile || !keyFile || env.NODE_EXTRA_CA_CERTS !== certFile) return undefined;
  return { cert: readFileSync(certFile, 'utf8'), key: readFileSync(keyFile, 'utf8'), certFile, keyFile };
}

/** The environment a child process needs to trust `certificate` and to serve with it. */
export function trustEnv(certificate: RunCertificate): Record<string, string> {
  return {
    NODE_EXTRA_CA_CERTS: certificate.certFile,
    [CERT_FILE_ENV]: certificate.certFile,
    [KEY_FILE_ENV]: certificate.keyFile,
  };
}

/** Removes the temporary folder of a certificate made by createRunCertificate. */
export function removeRunCertificate(certificate: Pick<RunCertificate, 'certFile'>): void {
  rmSync(dirname(certificate.certFile), { recursive: true, force: true });
}
