import type { TargetType } from '../../lib/config/schema';
import type { GuardCode, RunOutcome } from '../../lib/telemetry/events';

/**
 * The fault-injection matrix (issue 7): every fault each API can give, for the source (the APIM read) and
 * every target type, as data. tests/e2e/faults.*.test.ts play each cell against the emulators through the
 * real SDKs and assert what it says; scripts/reliability-table.js renders it, with the results of those
 * tests, into docs/reliability.md. Type imports only: the script loads this file by transpiling it.
 *
 * Runs to converge: the apply runs it takes, the faulted one included, until the target holds the
 * source's addresses, Azure reports the resource `Succeeded`, and the reconciler's state owns what it
 * wrote. Between runs the fault clears (a retry budget refilled, a role granted, the operation Azure was
 * running finished) and the clock moves 5 minutes. 1: the faulted run itself converged; 2: the next run
 * did. In every cell a further run then writes nothing, no entry the reconciler does not own changed, and
 * no allowlist or DNS name was ever empty.
 */

export type Subject = 'source' | TargetType;

export const SUBJECTS: readonly Subject[] = [
  'source',
  'cloudflare.dnsRecords',
  'cloudflare.dnsCname',
  'cloudflare.poolOrigins',
  'cloudflare.ipList',
  'azure.nsgRule',
  'azure.ipGroup',
  'azure.firewallPolicyRule',
  'azure.appServiceAccessRestriction',
];

export type FaultId =
  | 'throttled'
  | 'throttled-past-budget'
  | '5xx-burst'
  | '5xx-outage'
  | 'connection-reset'
  | 'slow-response'
  | 'concurrent-writer'
  | 'concurrent-writer-twice'
  | 'lro-failed'
  | 'lro-canceled'
  | 'missing-resource'
  | 'batch-race'
  | 'batch-invalid'
  | 'forbidden'
  | 'not-found'
  | 'malformed-json'
  | 'invalid-addresses'
  | 'killed';

export interface Fault {
  id: FaultId;
  /** The fault, as docs/reliability.md names it. */
  title: string;
  /** What the reconciler does about it. */
  does: string;
}

/** What the faulted run must report: its outcome, exit code and events. */
export interface FirstRun {
  outcome: RunOutcome;
  exitCode: 0 | 1 | 3;
  /** Reasons of its Reconcile.Blocked events, in order. */
  blocked: GuardCode[];
  /** Results of its Reconcile.Change events: all `applied`, all `failed`, or none at all. */
  changes: 'applied' | 'failed' | 'none';
}

export interface Cell {
  /** `<subject> <fault>`: the test's name, by which docs/reliability.md finds its result. */
  id: string;
  subject: Subject;
  fault: FaultId;
  runs: 1 | 2;
  /** The faulted run; `killed` when its process died before it could report. */
  first: FirstRun | 'killed';
  /** Where this cell differs from what the fault's row says, for docs/reliability.md. */
  note?: string;
}

export const FAULTS: readonly Fault[] = [
  {
    id: 'throttled',
    title: '429 with `Retry-After: 1`',
    does: 'waits as asked (the Azure SDK, the Cloudflare SDK, or the IP-list driver for its bulk writes) and sends again; the run completes',
  },
  {
    id: 'throttled-past-budget',
    title: '429 with `Retry-After: 30`, `safety.runBudget` 2 s',
    does: 'stops waiting when the run budget is spent (Azure: the budget ends the SDK wait; Cloudflare: a wait past the budget is not retried) instead of sleeping 30 s; the target fails, a source is `SourceUnavailable`; the next run converges',
  },
  {
    id: '5xx-burst',
    title: '500 then 503',
    does: 'retried (Azure SDK: up to 3 retries; Cloudflare SDK: 2; the IP-list driver retries its bulk writes as the SDK would); the run completes',
  },
  {
    id: '5xx-outage',
    title: '500 on every attempt of the run',
    does: 'retries run out: the target fails (a source is `SourceUnavailable` and none of its targets is written); the next run converges',
  },
  {
    id: 'connection-reset',
    title: 'connection reset',
    does: 'retried like a 5xx; the run completes',
  },
  {
    id: 'slow-response',
    title: 'answer slower than the client timeout',
    does: 'the attempt is abandoned at the client timeout (Cloudflare and Azure: 30 s per attempt) and retried; a write the server had already applied is found by the retry (412 → re-read, or an idempotent re-send)',
  },
  {
    id: 'concurrent-writer',
    title: 'a concurrent writer between read and write (412)',
    does: 'the write is refused (412, a batch race error, a re-read that differs: pools and App Service have no etag) and the target is read and planned again once, keeping the other writer’s entry; an IP list waits out the other writer’s bulk operation and checks the list again; the run completes',
  },
  {
    id: 'concurrent-writer-twice',
    title: 'the concurrent writer strikes again after the re-read',
    does: '`LostRace` is reported (exit 3) and nothing is overwritten; the next run converges',
  },
  {
    id: 'lro-failed',
    title: 'long-running operation ends `Failed`',
    does: 'the target fails with Azure’s error; the next run writes it again (Azure keeps a `Failed` resource’s content, so the write repairs it)',
  },
  {
    id: 'lro-canceled',
    title: 'long-running operation ends `Canceled`',
    does: 'the target fails; Azure restored the previous content, and the next run writes again',
  },
  {
    id: 'missing-resource',
    title: 'the resource is missing from the start',
    does: 'an NSG rule whose target has a `create` block is created (`*` and lone ports in the singular fields, as NRP requires), then follows the source like any other (any other missing resource is the 404 row)',
  },
  {
    id: 'batch-race',
    title: 'DNS batch refused whole: 81057 (record already exists)',
    does: 'a lost race: read and planned again once, one more batch; the run completes',
  },
  {
    id: 'batch-invalid',
    title: 'DNS batch refused whole: invalid content (9005 / 9007)',
    does: 'nothing in the zone changed (one transaction); the target fails; the next run converges',
  },
  {
    id: 'forbidden',
    title: '403',
    does: 'on a write: the target fails, naming the permission to grant; on the APIM read: `SourceUnavailable`, nothing written; once granted the next run converges',
  },
  {
    id: 'not-found',
    title: '404 on the read',
    does: 'the target fails, naming the ID to check (a source: `SourceUnavailable`); the next run converges',
  },
  {
    id: 'malformed-json',
    title: 'malformed JSON on the read',
    does: 'a read that cannot be parsed is a failed read, never "no addresses": the target fails (a source is `SourceUnavailable`); the next run converges',
  },
  {
    id: 'invalid-addresses',
    title: 'garbage or private IPs from APIM',
    does: '`InvalidAddress` holds every target that selects an invalid address (here all of them, garbage in `publicIPAddresses`); targets that select only valid addresses go on; nothing held is written until APIM reports valid addresses',
  },
  {
    id: 'killed',
    title: 'process killed between two target writes',
    does: 'the next run reads what the dead one wrote (Azure finished its operation on its own) and completes the rest; what it wrote stays owned',
  },
];

const APPLIED: FirstRun = { outcome: 'changed', exitCode: 0, blocked: [], changes: 'applied' };
const WRITE_FAILED: FirstRun = { outcome: 'failed', exitCode: 1, blocked: [], changes: 'failed' };
const READ_FAILED: FirstRun = { outcome: 'failed', exitCode: 1, blocked: [], changes: 'none' };
const SOURCE_UNAVAILABLE: FirstRun = {
  outcome: 'failed',
  exitCode: 1,
  blocked: ['SourceUnavailable'],
  changes: 'none',
};
const LOST_RACE: FirstRun = { outcome: 'blocked', exitCode: 3, blocked: ['LostRace'], changes: 'none' };

/** The run found its own timed-out first attempt applied: in sync, it reports no change. */
const FOUND_APPLIED: FirstRun = { outcome: 'noop', exitCode: 0, blocked: [], changes: 'none' };
const FOUND_APPLIED_AZURE =
  'the retried PUT gets 412 (the first attempt was applied, only its answer was lost); read again the target is in sync, so the run reports no change although the address went in';

const TWICE_DNS =
  'the second time, the other writer created exactly the record the batch posts: reported, and right after one run';

function cell(
  subject: Subject,
  fault: FaultId,
  runs: 1 | 2,
  first: FirstRun | 'killed',
  note?: string,
): Cell {
  return { id: `${subject} ${fault}`, subject, fault, runs, first, ...(note ? { note } : {}) };
}

/** The faults every target type's API can give, and what they do to it. */
function targetRow(
  subject: TargetType,
  extra: Partial<Record<FaultId, [1 | 2, FirstRun, string?]>> = {},
): Cell[] {
  const common: Array<[FaultId, 1 | 2, FirstRun | 'killed', string?]> = [
    ['throttled', 1, APPLIED],
    ['throttled-past-budget', 2, WRITE_FAILED],
    ['5xx-burst', 1, APPLIED],
    ['5xx-outage', 2, WRITE_FAILED],
    ['connection-reset', 1, APPLIED],
    ['slow-response', 1, APPLIED],
    ['concurrent-writer', 1, APPLIED],
    ['forbidden', 2, WRITE_FAILED],
    ['not-found', 2, READ_FAILED],
    ['malformed-json', 2, READ_FAILED],
    ['killed', 2, 'killed'],
  ];
  const overridden = common.map(([fault, runs, first, note]): Cell => {
    const o = extra[fault];
    return o ? cell(subject, fault, o[0], o[1], o[2]) : cell(subject, fault, runs, first, note);
  });
  const added = (Object.keys(extra) as FaultId[])
    .filter((f) => !common.some(([fault]) => fault === f))
    .map((f) => {
      const [runs, first, note] = extra[f]!;
      return cell(subject, f, runs, first, note);
    });
  return [...overridden, ...added];
}

export const CELLS: readonly Cell[] = [
  cell('source', 'throttled', 1, APPLIED),
  cell('source', 'throttled-past-budget', 2, SOURCE_UNAVAILABLE),
  cell('source', '5xx-burst', 1, APPLIED),
  cell('source', '5xx-outage', 2, SOURCE_UNAVAILABLE),
  cell('source', 'connection-reset', 1, APPLIED),
  cell('source', 'slow-response', 1, APPLIED),
  cell('source', 'forbidden', 2, SOURCE_UNAVAILABLE),
  cell('source', 'not-found', 2, SOURCE_UNAVAILABLE),
  cell('source', 'malformed-json', 2, SOURCE_UNAVAILABLE),
  cell('source', 'invalid-addresses', 2, {
    outcome: 'blocked',
    exitCode: 3,
    // One per target: the eight targets all select the public IPs.
    blocked: Array<GuardCode>(8).fill('InvalidAddress'),
    changes: 'none',
  }),
  ...targetRow('cloudflare.dnsRecords', {
    'concurrent-writer-twice': [1, LOST_RACE, TWICE_DNS],
    'batch-race': [1, APPLIED],
    'batch-invalid': [2, WRITE_FAILED],
  }),
  ...targetRow('cloudflare.dnsCname', {
    'slow-response': [
      1,
      FOUND_APPLIED,
      'the retried batch finds its first attempt applied (81044 for the A record it deleted); read again, the name is in sync, so the run reports no change although the CNAME went in',
    ],
    'concurrent-writer-twice': [1, LOST_RACE, TWICE_DNS],
    'batch-race': [1, APPLIED],
    'batch-invalid': [2, WRITE_FAILED],
  }),
  ...targetRow('cloudflare.poolOrigins'),
  ...targetRow('cloudflare.ipList'),
  ...targetRow('azure.nsgRule', {
    'slow-response': [1, FOUND_APPLIED, FOUND_APPLIED_AZURE],
    'not-found': [
      1,
      APPLIED,
      'a rule read as missing is created with `If-None-Match: *`; it exists, so 412: read again, planned again, written',
    ],
    'concurrent-writer-twice': [2, LOST_RACE],
    'missing-resource': [1, APPLIED],
    'lro-failed': [2, WRITE_FAILED],
    'lro-canceled': [2, WRITE_FAILED],
  }),
  ...targetRow('azure.ipGroup', {
    'slow-response': [1, FOUND_APPLIED, FOUND_APPLIED_AZURE],
    'concurrent-writer-twice': [2, LOST_RACE],
    'lro-failed': [2, WRITE_FAILED],
    'lro-canceled': [2, WRITE_FAILED],
  }),
  ...targetRow('azure.firewallPolicyRule', {
    'slow-response': [1, FOUND_APPLIED, FOUND_APPLIED_AZURE],
    'concurrent-writer-twice': [2, LOST_RACE],
    'lro-failed': [2, WRITE_FAILED],
    'lro-canceled': [2, WRITE_FAILED],
  }),
  ...targetRow('azure.appServiceAccessRestriction'),
];
