import type { z } from 'zod';

/**
 * "Did you mean" for the configuration's problems (docs/configuration.md): the keys the schema knows at a JSON path
 * (for a target, the keys of its own type), and the closest of them to what was written.
 */

type Def = {
  type: string;
  shape?: Record<string, z.ZodType>;
  innerType?: z.ZodType;
  in?: z.ZodType;
  element?: z.ZodType;
  valueType?: z.ZodType;
  options?: z.ZodType[];
  discriminator?: string;
  values?: unknown[];
  getter?: () => z.ZodType;
};

const defOf = (schema: z.ZodType): Def => (schema as unknown as { _zod: { def: Def } })._zod.def;

/** Through optional, default, pipe (its input side), lazy…: to the schema that says what the value is. */
function unwrap(schema: z.ZodType): z.ZodType {
  for (let i = 0; i < 20; i++) {
    const def = defOf(schema);
    const next =
      def.innerType ??
      (def.type === 'pipe' ? def.in : undefined) ??
      (def.type === 'lazy' ? def.getter?.() : undefined);
    if (!next) return schema;
    schema = next;
  }
  return schema;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The option of a union the value belongs to: by its discriminator, else the first whose keys it uses most. */
function optionFor(def: Def, value: unknown): z.ZodType[] {
  const options = def.options ?? [];
  if (def.discriminator && isRecord(value)) {
    const chosen = options.filter((option) => {
      const literal = defOf(unwrap(option)).shape?.[def.discriminator!];
      return (
        literal !== undefined && (defOf(unwrap(literal)).values ?? []).includes(value[def.discriminator!])
      );
    });
    if (chosen.length > 0) return chosen;
  }
  if (isRecord(value)) {
    const keys = Object.keys(value);
    const score = (option: z.ZodType) =>
      keys.filter((k) => defOf(unwrap(option)).shape?.[k] !== undefined).length;
    const best = Math.max(0, ...options.map(score));
    if (best > 0) return options.filter((o) => score(o) === best);
  }
  return options;
}

/** The keys an object at `path` of the document may have; empty when the path leads to no object. */
export function keysAt(root: z.ZodType, input: unknown, path: readonly PropertyKey[]): string[] {
  let schemas: z.ZodType[] = [root];
  let value: unknown = input;
  const step = (schema: z.ZodType, key: PropertyKey | undefined): z.ZodType[] => {
    const inner = unwrap(schema);
    const def = defOf(inner);
    if (def.type === 'union') return optionFor(def, value).flatMap((o) => step(o, key));
    if (key === undefined) return [inner];
    if (def.type === 'object') return def.shape?.[String(key)] ? [def.shape[String(key)]!] : [];
    if (def.type === 'array') return def.element ? [def.element] : [];
    if (def.type === 'record') return def.valueType ? [def.valueType] : [];
    return [];
  };
  for (const key of path) {
    schemas = schemas.flatMap((s) => step(s, key));
    value =
      Array.isArray(value) && typeof key === 'number'
        ? value[key]
        : isRecord(value)
          ? value[String(key)]
          : undefined;
  }
  const keys = schemas.flatMap((s) => step(s, undefined)).flatMap((s) => Object.keys(defOf(s).shape ?? {}));
  return [...new Set(keys)];
}

/** Optimal string alignment distance: insertions, deletions, substitutions and swaps of neighbours. */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        d[i]![j] = Math.min(d[i]![j]!, d[i - 2]![j - 2]! + 1);
    }
  }
  return d[a.length]![b.length]!;
}

/** The candidate closest to `written`, when it is close enough to be what was meant. */
export function closest(written: string, candidates: readonly string[]): string | undefined {
  let best: { candidate: string; distance: number } | undefined;
  for (const candidate of candidates) {
    if (candidate === written) continue;
    const distance =
      candidate.toLowerCase() === written.toLowerCase()
        ? 0
        : editDistance(written.toLowerCase(), candidate.toLowerCase());
    if (!best || distance < best.distance) best = { candidate, distance };
  }
  if (!best) return undefined;
  const allowed = Math.max(1, Math.floor(Math.max(written.length, best.candidate.length) / 3));
  return best.distance <= allowed ? best.candidate : undefined;
}
