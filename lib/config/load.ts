import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { TARGET_TYPE_NAMES, TARGET_TYPES, typeOf } from '../targets/registry';
import { configSchema, SERVICE_TOKEN, type Config } from './schema';
import { jsonSyntaxProblem } from './jsonSyntax';
import { checkResolved, SETTINGS } from './settings';
import { closest, keysAt } from './suggest';

/** A configuration that cannot be used, with every problem listed by JSON path. */
export class ConfigError extends Error {
  constructor(
    readonly problems: string[],
    readonly origin: string,
  ) {
    super(`invalid configuration (${origin}):\n${problems.map((p) => `  ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** `targets[2].zoneId` from `['targets', 2, 'zoneId']`. */
export function jsonPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else if (/^[A-Za-z_$][\w$]*$/.test(String(key))) out += out ? `.${String(key)}` : String(key);
    else out += `[${JSON.stringify(String(key))}]`;
  }
  return out || '(document)';
}

function describe(issue: z.core.$ZodIssue, input: unknown): string[] {
  const at = (path: readonly PropertyKey[]) => jsonPath(path);
  switch (issue.code) {
    case 'unrecognized_keys': {
      const known = keysAt(configSchema, input, issue.path);
      return issue.keys.map((key) => {
        const meant = closest(key, known);
        const hint = meant
          ? `; did you mean "${meant}"?`
          : known.length > 0 && known.length <= 12
            ? `; the keys here are ${known.join(', ')}`
            : '';
        return `${at([...issue.path, key])}: unknown key${hint}`;
      });
    }
    case 'invalid_union': {
      if (issue.path[0] === 'sources' && issue.path.length === 2) {
        // A source is one service ({ resourceId }) or a fleet ({ query }): report the branch the document meant.
        const value = valueAt(input, issue.path);
        const branch =
          isRecord(value) && 'query' in value ? 1 : isRecord(value) && 'resourceId' in value ? 0 : -1;
        if (branch === -1) {
          const written = isRecord(value) ? Object.keys(value) : [];
          const meant = written
            .map((key) => [key, closest(key, ['resourceId', 'query'])] as const)
            .find(([, m]) => m !== undefined);
          return [
            `${at(issue.path)}: needs "resourceId" (one APIM service) or "query" (a fleet found by tag)${meant ? `; did you mean "${meant[1]}" instead of "${meant[0]}"?` : ''}`,
          ];
        }
        return (issue.errors[branch] ?? []).flatMap((nested) =>
          describe({ ...nested, path: [...issue.path, ...nested.path] } as z.core.$ZodIssue, input),
        );
      }
      if (issue.path[0] === 'targets' && issue.path.at(-1) === 'type') {
        const type = valueAt(input, issue.path);
        const expected = `one of ${TARGET_TYPE_NAMES.join(', ')}`;
        if (type === undefined) return [`${at(issue.path)}: required; ${expected}`];
        const meant = typeof type === 'string' ? closest(type, TARGET_TYPE_NAMES) : undefined;
        return [
          `${at(issue.path)}: unknown target type ${JSON.stringify(type)}; ${expected}${meant ? `; did you mean "${meant}"?` : ''}`,
        ];
      }
      return [`${at(issue.path)}: ${issue.message}`];
    }
    case 'invalid_type': {
      const value = valueAt(input, issue.path);
      if (value === undefined) return [`${at(issue.path)}: required`];
      return [`${at(issue.path)}: must be ${KIND[issue.expected] ?? issue.expected}, not ${kindOf(value)}`];
    }
    case 'invalid_value': {
      const value = valueAt(input, issue.path);
      const options = issue.values.map((v) => JSON.stringify(v));
      const choices = `${options.slice(0, -1).join(', ')}${options.length > 1 ? ' or ' : ''}${options.at(-1) ?? ''}`;
      if (value === undefined) return [`${at(issue.path)}: required; ${choices}`];
      const meant =
        typeof value === 'string'
          ? closest(
              value,
              issue.values.filter((v): v is string => typeof v === 'string'),
            )
          : undefined;
      return [
        `${at(issue.path)}: must be ${choices}, not ${JSON.stringify(value)}${meant ? `; did you mean "${meant}"?` : ''}`,
      ];
    }
    case 'too_small':
    case 'too_big': {
      const bound = Number(issue.code === 'too_small' ? issue.minimum : issue.maximum);
      const most = issue.code === 'too_big';
      switch (issue.origin) {
        case 'array':
          return [
            most
              ? `${at(issue.path)}: at most ${bound} item${bound === 1 ? '' : 's'}`
              : bound === 1
                ? `${at(issue.path)}: must not be empty (leave the key out instead)`
                : `${at(issue.path)}: needs at least ${bound} items`,
          ];
        case 'string':
          return [
            most
              ? `${at(issue.path)}: at most ${bound} characters`
              : bound === 1
                ? `${at(issue.path)}: must not be empty`
                : `${at(issue.path)}: at least ${bound} characters`,
          ];
        case 'number':
        case 'int':
          return [`${at(issue.path)}: must be ${most ? 'at most' : 'at least'} ${bound}`];
        default:
          return [`${at(issue.path)}: ${issue.message}`];
      }
    }
    case 'invalid_format':
      // Every pattern of the schema carries its own message; zod's generic one only says a pattern failed.
      return [
        `${at(issue.path)}: ${/^Invalid/.test(issue.message) ? 'is not written the way this key needs' : issue.message}`,
      ];
    default:
      return [`${at(issue.path)}: ${issue.message}`];
  }
}

const KIND: Record<string, string> = {
  string: 'text in double quotes',
  number: 'a number',
  int: 'a whole number',
  boolean: 'true or false',
  array: 'a list [ … ]',
  object: 'an object { … }',
};

function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'string')
    return `text (${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)})`;
  if (typeof value === 'number') return `a number (${value})`;
  if (typeof value === 'boolean') return `${value}`;
  return 'an object';
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let value = input;
  for (const key of path) {
    if (Array.isArray(value) && typeof key === 'number') value = value[key];
    else if (isRecord(value)) value = value[String(key)];
    else return undefined;
  }
  return value;
}

/** Checks across keys, run on the raw document so they are reported beside every other problem. */
function crossReferences(input: unknown): string[] {
  if (!isRecord(input) || !Array.isArray(input.targets)) return [];
  const sources = isRecord(input.sources) ? Object.keys(input.sources) : [];
  const problems: string[] = [];
  const names = new Set<unknown>();
  input.targets.forEach((t: unknown, i) => {
    if (!isRecord(t)) return;
    if (typeof t.source === 'string' && !sources.includes(t.source)) {
      problems.push(
        `targets[${i}].source: unknown source ${JSON.stringify(t.source)}; defined: ${sources.join(', ') || 'none'}`,
      );
    }
    if (t.name !== undefined && names.has(t.name)) {
      problems.push(`targets[${i}].name: duplicate target name ${JSON.stringify(t.name)}`);
    }
    names.add(t.name);
    const sourceValue =
      typeof t.source === 'string' && isRecord(input.sources) ? input.sources[t.source] : undefined;
    const fleet = isRecord(sourceValue) && 'query' in sourceValue;
    if (!fleet && JSON.stringify(t).includes('{service}')) {
      problems.push(
        `targets[${i}]: {service} is replaced only in targets of a fleet source; ${String(t.source)} is one service`,
      );
    }
    const definition = TARGET_TYPES.find((d) => typeOf(d) === t.type);
    problems.push(...(definition?.crossCheck?.(t) ?? []).map((p) => `targets[${i}]${p}`));
  });
  return problems;
}

/**
 * One resource, one owner (docs/design/product.md §6): two targets that write the same thing would undo each
 * other's writes or write from one stale read. A target of a fleet must name a resource per service.
 */
function sharedResources(config: Config): string[] {
  const problems: string[] = [];
  const seen = new Map<string, number>();
  config.targets.forEach((target, i) => {
    const definition = TARGET_TYPES.find((d) => typeOf(d) === target.type);
    if (!definition) return;
    const writes = (definition.writes as (t: typeof target) => string)(target);
    const source = config.sources[target.source];
    if (source && 'query' in source && !writes.includes(SERVICE_TOKEN)) {
      problems.push(
        `targets[${i}]: every service of fleet ${target.source} would write the same ${writes}; put ${SERVICE_TOKEN} in the key that names it (e.g. "recordName": "${SERVICE_TOKEN}.api.contoso.com")`,
      );
    }
    const other = seen.get(writes.toLowerCase());
    if (other !== undefined) {
      problems.push(
        `targets[${i}]: ${target.name} writes ${writes}, as targets[${other}] (${config.targets[other]!.name}) does; two targets on one resource undo each other's writes: keep one, or point this one at a resource of its own`,
      );
    } else seen.set(writes.toLowerCase(), i);
  });
  return problems;
}

/** Validates a parsed document; throws ConfigError listing every problem. */
export function parseConfig(input: unknown, origin = 'config'): Config {
  const result = configSchema.safeParse(input);
  const problems = [
    ...(result.success
      ? sharedResources(result.data)
      : result.error.issues.flatMap((issue) => describe(issue, input))),
    ...crossReferences(input),
  ];
  if (problems.length > 0 || !result.success) throw new ConfigError([...new Set(problems)], origin);
  return result.data;
}

/** Parses JSON text then validates it. */
export function parseConfigText(text: string, origin: string): Config {
  let input: unknown;
  try {
    input = JSON.parse(text);
  } catch (error) {
    const problem = jsonSyntaxProblem(text);
    throw new ConfigError(
      [
        problem
          ? `(document): not valid JSON at line ${problem.line}, column ${problem.column}: ${problem.message}`
          : `(document): not valid JSON: ${(error as Error).message}`,
      ],
      origin,
    );
  }
  return parseConfig(input, origin);
}

export function loadConfigFile(file: string): Config {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'file not found' : (error as Error).message;
    throw new ConfigError([`(document): cannot read ${file}: ${why}`], file);
  }
  return parseConfigText(text, file);
}

/**
 * The Functions app's configuration: the app setting RECONCILER_CONFIG (inline JSON) or else the file named
 * by RECONCILER_CONFIG_FILE (default reconciler.config.json in `baseDir`, the folder of host.json).
 */
export function loadConfigFromEnvironment(env: NodeJS.ProcessEnv, baseDir: string): Config {
  const inline = env[SETTINGS.config];
  if (inline !== undefined && inline.trim() !== '') {
    checkResolved(SETTINGS.config, inline);
    return parseConfigText(inline, SETTINGS.config);
  }
  const file = env[SETTINGS.configFile] || 'reconciler.config.json';
  return loadConfigFile(file.startsWith('/') ? file : `${baseDir}/${file}`);
}
