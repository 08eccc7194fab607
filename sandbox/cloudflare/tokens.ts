/**
 * Token verification (`GET /user/tokens/verify`), as the `cloudflare` SDK calls it (cloudflare/cloudflare-typescript
 * v7 `src/resources/user/tokens/tokens.ts`: `client.user.tokens.verify()` → `{id, status, expires_on?, not_before?}`).
 *
 * - An active token: 200 with `status: "active"` and the message `{code: 10000, "This API Token is valid and
 *   active"}` (putyourlightson/craft-cloudflare#88).
 * - A disabled or expired token: 200 with `status: disabled|expired` (the SDK's TokenVerifyResponse enum); an
 *   expired one also carries `expires_on` (in the past).
 * - An unknown token: 401 `1000 Invalid API Token` (widely observed; the resources themselves answer 403 10000).
 * - No extra permission is needed: any token the core accepted may verify itself.
 */
import type { Reply, RouteContext } from '../emulator';
import { CloudflareModule, fail, type CloudflareRoute, type Json } from './core';

export class Tokens extends CloudflareModule {
  routes(): CloudflareRoute[] {
    return [
      {
        name: 'tokens.verify',
        method: 'GET',
        template: '/user/tokens/verify',
        handle: (c) => this.verify(c),
      },
    ];
  }

  private verify(ctx: RouteContext): Reply {
    const token = this.core.tokenOf(ctx);
    if (!token) throw fail(401, 1000, 'Invalid API Token');
    const result: Json = { id: token.id, status: token.status };
    if (token.status === 'expired') result.expires_on = new Date(Date.now() - 86_400_000).toISOString();
    const messages =
      token.status === 'active'
        ? [{ code: 10000, message: 'This API Token is valid and active', type: null }]
        : [];
    return { status: 200, body: { result, success: true, errors: [], messages } };
  }
}
