import { displayText, parsePrefix } from './addresses';

/**
 * Addresses shown one way in everything a person reads (the plan, the status page): a single address without its
 * /32 or /128, a real prefix with it, IPv6 compressed and lower-case — the same as the reconciler compares them
 * (docs/configuration.md). Anything that is not an address passes through as written.
 */
const CANDIDATE = /[0-9A-Fa-f:.]*[.:][0-9A-Fa-f:.]*(?:\/\d{1,3})?/g;

export function displayAddresses(text: string): string {
  return text.replace(CANDIDATE, (token) => {
    if (!/\d/.test(token) || !/^[0-9a-f]|^:/i.test(token)) return token;
    const prefix = parsePrefix(token);
    return prefix ? displayText(prefix) : token;
  });
}
