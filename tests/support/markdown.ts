import { readdirSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Just enough Markdown reading for tests/unit/docs.test.ts: the headings of a document with their GitHub anchors,
 * its relative links, and one section's text. Fenced code blocks and inline code are never read as Markdown.
 */

/** Lines outside fenced code blocks (``` or ~~~), with their 1-based line numbers. */
export function proseLines(markdown: string): Array<{ line: number; text: string }> {
  const lines: Array<{ line: number; text: string }> = [];
  let fence: string | undefined;
  markdown.split('\n').forEach((text, i) => {
    const marker = /^\s*(```+|~~~+)/.exec(text)?.[1];
    if (fence) {
      if (marker && marker[0] === fence[0] && marker.length >= fence.length) fence = undefined;
      return;
    }
    if (marker) {
      fence = marker;
      return;
    }
    lines.push({ line: i + 1, text });
  });
  return lines;
}

/** A line with its inline code spans replaced by `code`, so their content is neither a link nor a heading mark. */
const withoutCode = (text: string): string => text.replace(/(`+)(?:(?!\1).)+?\1/g, 'code');

/**
 * GitHub's anchor for a heading (github-slugger): the rendered text, lower-case, every character that is not a
 * letter, mark, digit, connector (`_`), hyphen or space dropped, and spaces turned into hyphens.
 */
export function slug(heading: string): string {
  const rendered = heading
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1') // links and images: their text
    .replace(/`/g, '') // inline code: its content
    .replace(/\*+/g, '') // emphasis marks
    .replace(/<[^>]+>/g, ''); // inline HTML
  return rendered
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc}\- ]/gu, '')
    .replace(/ /g, '-');
}

/** Every anchor a document's headings get on GitHub, repeated headings numbered as GitHub numbers them. */
export function anchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const result = new Set<string>();
  for (const { text } of proseLines(markdown)) {
    const heading = /^ {0,3}#{1,6}\s+(.*?)(?:\s+#+\s*)?$/.exec(text)?.[1];
    if (heading === undefined) continue;
    const base = slug(heading);
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    result.add(n === 0 ? base : `${base}-${n}`);
  }
  return result;
}

export interface Link {
  line: number;
  target: string;
}

/** Inline links and images whose target is relative (no scheme, not protocol-relative): `[text](target)`. */
export function relativeLinks(markdown: string): Link[] {
  const links: Link[] = [];
  for (const { line, text } of proseLines(markdown)) {
    for (const match of withoutCode(text).matchAll(/!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) {
      const target = match[1]!;
      if (/^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith('//')) continue;
      links.push({ line, target });
    }
  }
  return links;
}

/**
 * The text of the section a heading starts, up to the next heading of the same or a higher level; undefined when
 * no heading has that text.
 */
export function section(markdown: string, heading: string): string | undefined {
  const headings = proseLines(markdown)
    .map(({ line, text }) => ({ line, match: /^ {0,3}(#{1,6})\s+(.*?)\s*$/.exec(text) }))
    .filter((h) => h.match !== null)
    .map(({ line, match }) => ({ line, level: match![1]!.length, text: match![2]! }));
  const start = headings.findIndex((h) => h.text === heading);
  if (start < 0) return undefined;
  const next = headings.slice(start + 1).find((h) => h.level <= headings[start]!.level);
  return markdown
    .split('\n')
    .slice(headings[start]!.line - 1, next ? next.line - 1 : undefined)
    .join('\n');
}

/** Files under a directory, recursively, as paths relative to `root`; `skip` names directories to leave out. */
export function filesUnder(root: string, dir: string, skip: readonly string[] = []): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(join(root, dir), { withFileTypes: true })) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory()) {
      if (!skip.includes(entry.name)) out.push(...filesUnder(root, path, skip));
    } else if (entry.isFile()) {
      out.push(path);
    }
  }
  return out;
}
