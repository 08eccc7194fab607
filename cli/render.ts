import type { ChangeReport, RunReport, SourceReport, TargetReport } from '../lib/engine/report';
import { SIGN_IN_FAILED, SIGN_IN_FIX } from '../lib/wiring/identity';
import { displayAddresses } from '../lib/net/display';

/** Renders a RunReport like a Terraform plan: one block per target, one line per change. */

const SYMBOL: Record<ChangeReport['action'], string> = {
  add: '+',
  create: '+',
  update: '~',
  adopt: '~',
  remove: '-',
  delete: '-',
};

function changeLine(change: ChangeReport): string {
  const c = {
    ...change,
    before: change.before === undefined ? undefined : displayAddresses(change.before),
    after: change.after === undefined ? undefined : displayAddresses(change.after),
  };
  const subject = c.subject ? `${c.subject} ` : '';
  let text: string;
  switch (c.action) {
    case 'add':
      text = `add ${c.after}`;
      break;
    case 'remove':
      text = `remove ${c.before}`;
      break;
    case 'create':
      text = c.subject ? `create ${subject}${c.after}` : `create ${c.note ?? ''} with ${c.after}`;
      break;
    case 'delete':
      text = `delete ${subject}${c.before}`;
      break;
    case 'update':
      text = `update ${subject}${c.before} → ${c.after}`;
      break;
    case 'adopt':
      text = c.subject ? `adopt ${subject}${c.before}` : `adopt ${c.note ?? ''}`;
      break;
  }
  const note = c.note && c.action !== 'create' && !(c.action === 'adopt' && !c.subject) ? ` (${c.note})` : '';
  const result = c.result === 'failed' ? '  [failed]' : '';
  return `${SYMBOL[c.action]} ${text}${note}${result}`;
}

function sourceLine(s: SourceReport): string {
  if (s.status === 'unavailable') return `  ${s.name}: unavailable — ${briefly(s.error ?? '')}`;
  const parts = [`${s.name}: ${s.provisioningState}`, s.sku];
  const a = s.addresses;
  const shown = (list: string[]) => displayAddresses(list.join(', '));
  if (a?.inbound.length) parts.push(`inbound ${shown(a.inbound)}`);
  if (a?.outbound.length && shown(a.outbound) !== shown(a.inbound))
    parts.push(`outbound ${shown(a.outbound)}`);
  if (a?.private.length) parts.push(`private ${shown(a.private)}`);
  return `  ${parts.filter(Boolean).join(' · ')}`;
}

/** `rg-backend/networkSecurityGroups/backend-nsg/securityRules/allow-apim` for an ARM ID; anything else as is. */
export function shortResource(resource: string): string {
  const m = /^\/subscriptions\/[^/]+\/resourceGroups\/([^/]+)\/providers\/[^/]+\/(.+)$/i.exec(resource);
  return m ? `${m[1]}/${m[2]}` : resource;
}

const when = (iso: string) => iso.replace(/\.\d{3}Z$/, 'Z');

function targetBlock(t: TargetReport, now: Date): string[] {
  const lines = [`  # ${t.name} (${t.type}) ${shortResource(t.resource)}`];
  const indent = '      ';
  if (t.block) {
    lines.push(`${indent}! blocked: ${t.block.reason}${t.heldBySource ? ` (source ${t.source})` : ''}`);
    lines.push(`${indent}  ${briefly(t.block.detail)}`);
  }
  if (t.addresses?.note) {
    lines.push(
      `${indent}addresses: ${t.addresses.selector} from ${t.addresses.fields.join(', ')} (${t.addresses.note})`,
    );
  }
  if (t.reowned) {
    lines.push(
      `${indent}~ owns again ${t.reowned.join(', ')} (no state for this target: the entries equal to the source's addresses are the reconciler's again)`,
    );
  }
  for (const c of t.status === 'skipped' ? [] : t.changes) lines.push(`${indent}${changeLine(c)}`);
  if (t.status === 'failed' || t.status === 'skipped') {
    lines.push(`${indent}✗ ${t.status}: ${briefly(problemLine(t))}`);
  } else if (!t.block && t.changes.length === 0) {
    lines.push(`${indent}= in sync`);
  }
  for (const d of t.deferred) {
    const entry = displayAddresses(d.entry);
    if (d.heldBy) {
      const why =
        d.heldBy === 'UnreadableTarget'
          ? 'waits while a target of the same source cannot be read'
          : `held by ${d.heldBy}`;
      lines.push(`${indent}… keeps ${entry}: its removal is due but ${why}`);
      continue;
    }
    const left = Math.max(0, Date.parse(d.retiresAt) - now.getTime());
    lines.push(
      `${indent}… keeps ${entry} until ${when(d.retiresAt)} (retireAfter: ${Math.ceil(left / 60_000)} min left)`,
    );
  }
  return lines;
}

/** A target's error and what to do about it, on one line. */
export function problemLine(t: Pick<TargetReport, 'error' | 'hint'>): string {
  return t.hint ? `${t.error} — ${t.hint}` : (t.error ?? '');
}

/**
 * A failed Azure sign-in reaches every source and target that needed a token: in the plan it is named once (below),
 * and each place it hit says only that.
 */
function briefly(text: string): string {
  const at = text.indexOf(SIGN_IN_FAILED);
  return at < 0 ? text : `${text.slice(0, at)}${SIGN_IN_FAILED} (see the error below)`;
}

/** The sign-in failure of the run, once, when any source or target met it. */
function signInFailure(report: RunReport): string | undefined {
  const texts = [
    report.error,
    ...report.sources.map((s) => s.error ?? s.block?.detail),
    ...report.targets.map((t) => t.error ?? t.block?.detail),
  ];
  for (const text of texts) {
    const at = text?.indexOf(SIGN_IN_FAILED) ?? -1;
    if (at >= 0) return text!.slice(at).split(' — ')[0]!;
  }
  return undefined;
}

/**
 * One line per error of the run, for stderr: what is wrong and what to do. A failed Azure sign-in is one line with
 * the fix, however many sources and targets it stopped.
 */
export function errorLines(report: RunReport): string[] {
  const signIn = signInFailure(report);
  const lines = [
    ...(report.error ? [`error: ${report.error}`] : []),
    ...report.sources
      .filter((s) => s.status === 'unavailable')
      .map((s) => `error: source ${s.name}: ${s.block?.detail ?? s.error}`),
    ...report.targets
      .filter((t) => t.status === 'failed')
      .map((t) => `error: target ${t.name}: ${problemLine(t)}`),
  ];
  if (!signIn) return lines;
  const hit = lines.filter((line) => line.includes(SIGN_IN_FAILED));
  const names = hit.map((line) => /^error: ((?:source|target) \S+):/.exec(line)?.[1]).filter(Boolean);
  return [
    `error: ${signIn} — ${SIGN_IN_FIX}${names.length > 0 ? ` (it stopped ${names.join(', ')})` : ''}`,
    ...lines.filter((line) => !line.includes(SIGN_IN_FAILED)),
  ];
}

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

/**
 * The last line of the output. Its first word is the exit code's: OK (0), Failed (1), Pending (2, plan only),
 * Blocked (3); it counts targets (held, failed), not guards, and says "in sync" only when nothing is held, failed
 * or pending.
 */
export function summaryLine(report: RunReport, command: 'plan' | 'apply', exitCode: number): string {
  const changes = report.targets.flatMap((t) => t.changes);
  const count = (...actions: ChangeReport['action'][]) =>
    changes.filter((c) => actions.includes(c.action)).length;
  const tally = `${count('add', 'create')} to add, ${count('update', 'adopt')} to change, ${count('remove', 'delete')} to remove`;
  const held = report.targets.filter((t) => t.block).length;
  const failed = report.targets.filter(
    (t) => t.status === 'failed' || (t.status === 'skipped' && t.error),
  ).length;
  const unavailable = report.sources.filter((s) => s.status === 'unavailable').length;
  const applied = report.counts.changesApplied;
  const writes = command === 'apply' && !report.dryRun && report.mode === 'enforce';
  const observe = command === 'apply' && report.mode === 'observe' ? ' (observe mode: nothing written)' : '';
  const trouble = [
    unavailable && `${plural(unavailable, 'source')} unavailable`,
    failed && `${plural(failed, 'target')} failed`,
    held && `${plural(held, 'target')} held by a guard`,
  ].filter(Boolean);
  const done = writes
    ? applied > 0 || report.counts.changesFailed > 0
      ? `${plural(applied, 'change')} applied`
      : 'nothing changed'
    : changes.length > 0
      ? `${plural(changes.length, 'change')} pending: ${tally}`
      : 'nothing to change';
  switch (exitCode) {
    case 1:
      if (report.error && trouble.length === 0) return `Failed: ${report.error}`;
      return `Failed: ${[...trouble, done].join('; ')}.`;
    case 3:
      return `Blocked: ${[...trouble, done].join('; ')}${observe}.`;
    case 2:
      return `Pending: ${tally}.`;
    default:
      if (changes.length === 0 && held === 0 && failed === 0 && unavailable === 0)
        return `OK: everything is in sync (${plural(report.targets.length, 'target')}, no changes).`;
      return `OK${observe}: ${done}.`;
  }
}

/** The run as text; `command` and `exitCode` choose the summary's words (first word = exit code). */
export function renderReport(
  report: RunReport,
  command: 'plan' | 'apply' = report.dryRun ? 'plan' : 'apply',
  exitCode?: number,
): string {
  const now = new Date(report.finishedAt);
  const lines: string[] = [];
  if (report.sources.length > 0) {
    lines.push('Sources');
    for (const s of report.sources) {
      lines.push(sourceLine(s));
      if (s.block) lines.push(`      ! blocked: ${s.block.reason} — ${s.block.detail}`);
    }
    lines.push('');
  }
  if (report.targets.length > 0) {
    lines.push('Targets');
    for (const t of report.targets) lines.push(...targetBlock(t, now));
    lines.push('');
  }
  if (report.error) lines.push(`✗ ${briefly(report.error)}`);
  lines.push(summaryLine(report, command, exitCode ?? defaultExitCode(report, command)));
  return lines.join('\n');
}

/** The CLI's exit code for a report (docs/cli.md#exit-codes): 1 error, 3 blocked, 2 pending (plan only), 0. */
export function defaultExitCode(report: RunReport, command: 'plan' | 'apply'): number {
  if (report.error || report.counts.errors > 0) return 1;
  if (report.counts.guards > 0) return 3;
  if (command === 'plan' && report.counts.changesPlanned > 0) return 2;
  return 0;
}
