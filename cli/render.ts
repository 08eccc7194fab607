import type { ChangeReport, RunReport, SourceReport, TargetReport } from '../lib/engine/report';

/** Renders a RunReport like a Terraform plan: one block per target, one line per change. */

const SYMBOL: Record<ChangeReport['action'], string> = {
  add: '+',
  create: '+',
  update: '~',
  adopt: '~',
  remove: '-',
  delete: '-',
};

function changeLine(c: ChangeReport): string {
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
  if (s.status === 'unavailable') return `  ${s.name}: unavailable — ${s.error}`;
  const parts = [`${s.name}: ${s.provisioningState}`, s.sku];
  const a = s.addresses;
  if (a?.inbound.length) parts.push(`inbound ${a.inbound.join(', ')}`);
  if (a?.outbound.length && a.outbound.join() !== a.inbound.join())
    parts.push(`outbound ${a.outbound.join(', ')}`);
  if (a?.private.length) parts.push(`private ${a.private.join(', ')}`);
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
    lines.push(`${indent}  ${t.block.detail}`);
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
    lines.push(`${indent}✗ ${t.status}: ${problemLine(t)}`);
  } else if (!t.block && t.changes.length === 0) {
    lines.push(`${indent}= in sync`);
  }
  for (const d of t.deferred) {
    if (d.heldBy) {
      const why =
        d.heldBy === 'UnreadableTarget'
          ? 'waits while a target of the same source cannot be read'
          : `held by ${d.heldBy}`;
      lines.push(`${indent}… keeps ${d.entry}: its removal is due but ${why}`);
      continue;
    }
    const left = Math.max(0, Date.parse(d.retiresAt) - now.getTime());
    lines.push(
      `${indent}… keeps ${d.entry} until ${when(d.retiresAt)} (retireAfter: ${Math.ceil(left / 60_000)} min left)`,
    );
  }
  return lines;
}

/** A target's error and what to do about it, on one line. */
export function problemLine(t: Pick<TargetReport, 'error' | 'hint'>): string {
  return t.hint ? `${t.error} — ${t.hint}` : (t.error ?? '');
}

/** One line per error of the run, for stderr: what is wrong and what to do. */
export function errorLines(report: RunReport): string[] {
  return [
    ...(report.error ? [`error: ${report.error}`] : []),
    ...report.sources
      .filter((s) => s.status === 'unavailable')
      .map((s) => `error: source ${s.name}: ${s.block?.detail ?? s.error}`),
    ...report.targets
      .filter((t) => t.status === 'failed')
      .map((t) => `error: target ${t.name}: ${problemLine(t)}`),
  ];
}

function summary(report: RunReport): string {
  const changes = report.targets.flatMap((t) => t.changes);
  const count = (...actions: ChangeReport['action'][]) =>
    changes.filter((c) => actions.includes(c.action)).length;
  const blocked = report.counts.guards;
  const failed = report.counts.errors;
  const tail = [blocked && `${blocked} blocked`, failed && `${failed} failed`].filter(Boolean).join(', ');
  if (report.dryRun || report.mode === 'observe') {
    const head =
      changes.length === 0
        ? tail
          ? 'No changes planned.'
          : 'No changes. Everything is in sync.'
        : `Plan: ${count('add', 'create')} to add, ${count('update', 'adopt')} to change, ${count('remove', 'delete')} to remove.`;
    const mode = report.mode === 'observe' && !report.dryRun ? ' (observe mode: nothing written)' : '';
    return `${head}${mode}${tail ? ` ${tail}.` : ''}`;
  }
  const applied = report.counts.changesApplied;
  const head =
    applied === 0 && changes.length === 0
      ? 'No changes. Everything is in sync.'
      : `Apply complete: ${applied} changed.`;
  return `${head}${tail ? ` ${tail}.` : ''}`;
}

export function renderReport(report: RunReport): string {
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
  if (report.error) lines.push(`✗ ${report.error}`);
  lines.push(summary(report));
  return lines.join('\n');
}
