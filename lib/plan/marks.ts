/**
 * The marks the reconciler writes on everything it owns (docs/design/product.md §6). Azure descriptions and tags
 * use `managed-by=apim-ip-reconciler`; Cloudflare comments use a colon, `managed-by:apim-ip-reconciler`.
 */
export const OWNER_MARK = 'managed-by=apim-ip-reconciler';
export const COMMENT_MARK = 'managed-by:apim-ip-reconciler';
export const OWNER_TAG = { name: 'managed-by', value: 'apim-ip-reconciler' } as const;

/** NRP's limit on a security rule's description; firewall rule descriptions are kept within it too. */
const DESCRIPTION_LIMIT = 140;

/** Keeps the existing description and appends the mark, within 140 characters. */
export function markedDescription(description: string | undefined): string {
  const existing = (description ?? '').trim();
  if (existing.includes(OWNER_MARK)) return existing;
  if (!existing) return OWNER_MARK;
  const room = DESCRIPTION_LIMIT - OWNER_MARK.length - 1;
  return `${existing.length > room ? existing.slice(0, room) : existing} ${OWNER_MARK}`;
}

/** Free zones allow 100 characters of comment. */
const COMMENT_LIMIT = 100;

/** The Cloudflare comment mark, followed by what the comment said before (shortened to fit). */
export function markedComment(comment: string): string {
  if (comment.startsWith(COMMENT_MARK)) return comment;
  const rest = comment.trim();
  return rest ? `${COMMENT_MARK} ${rest}`.slice(0, COMMENT_LIMIT) : COMMENT_MARK;
}
