/**
 * What counts as a leaked secret in a log line or an event, for tests/support/noSecrets.ts (registered for every
 * test file in jest.config.js). Pure, so that the scanner itself is tested (tests/unit/secretScan.test.ts).
 */

export interface Captured {
  /** Where the text was seen: `console.error`, `context.log`, `event Reconcile.Run`, `ingestion envelope`… */
  channel: string;
  text: string;
}

/** Shapes that are credentials whatever their value (no test fixture needed to know them). */
export const SECRET_SHAPES: ReadonlyArray<{ name: string; pattern: RegExp }> = [
  { name: 'a storage account key', pattern: /AccountKey=[^;\s"]+/i },
  { name: 'a SAS signature', pattern: /[?&]sig=[A-Za-z0-9%+/=]{10,}/ },
  { name: 'an Application Insights connection string', pattern: /InstrumentationKey=[^;\s"]+/i },
  { name: 'a JWT', pattern: /\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*/ },
  // "Bearer" and a token-like word (with a digit, dot, dash or underscore), not prose such as "Bearer token".
  { name: 'a bearer token', pattern: /\bBearer\s+(?=\S*[0-9._-])[A-Za-z0-9._~+/=-]{8,}/ },
];

/** Secrets shorter than this are not looked for (they would match ordinary words). */
const MIN_SECRET_LENGTH = 8;

/**
 * Every leak in `captured`: a known secret value ([name, value] pairs) or a credential shape. Each finding names the
 * channel and the secret, and shows the line with the secret itself replaced by its name.
 */
export function findLeaks(
  captured: readonly Captured[],
  secrets: ReadonlyArray<readonly [name: string, value: string]>,
): string[] {
  const values = secrets.filter(([, value]) => value.length >= MIN_SECRET_LENGTH);
  const findings: string[] = [];
  for (const { channel, text } of captured) {
    const found = new Set<string>();
    let redacted = text;
    for (const [name, value] of values) {
      if (!text.includes(value)) continue;
      found.add(name);
      redacted = redacted.split(value).join(`«${name}»`);
    }
    for (const { name, pattern } of SECRET_SHAPES) {
      const global = new RegExp(
        pattern.source,
        pattern.flags.includes('g') ? pattern.flags : `${pattern.flags}g`,
      );
      if (!global.test(redacted)) continue;
      found.add(name);
      redacted = redacted.replace(global, `«${name}»`);
    }
    if (found.size > 0) findings.push(`${channel}: ${[...found].join(', ')} in: ${excerpt(redacted)}`);
  }
  return findings;
}

function excerpt(text: string): string {
  const oneLine = text.replace(/\s+/g, ' ');
  const at = Math.max(0, oneLine.indexOf('«') - 80);
  const cut = oneLine.slice(at, at + 240);
  return `${at > 0 ? '…' : ''}${cut}${at + 240 < oneLine.length ? '…' : ''}`;
}
