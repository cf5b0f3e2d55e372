/** Helpline statistics from stored tickets and conversations: waiting times and chat durations. */

export interface HelplineStats {
  /** Clients paired with a staff member. */
  readonly clients: number;
  readonly waitSeconds: { readonly mean: number; readonly p50: number; readonly max: number };
  /** Share (0–1) of paired clients who waited 15 s or more. */
  readonly waited15sShare: number;
  readonly chats: number;
  readonly chatSeconds: { readonly mean: number; readonly p50: number; readonly max: number };
}

export function helplineStats(
  tickets: readonly { created_at: number; paired_at: number | null }[],
  conversations: readonly { started_at: number; ended_at: number | null }[],
): HelplineStats {
  const waits = tickets.filter((t) => t.paired_at !== null).map((t) => ((t.paired_at as number) - t.created_at) / 1000);
  const durations = conversations.filter((c) => c.ended_at !== null).map((c) => ((c.ended_at as number) - c.started_at) / 1000);
  return {
    clients: waits.length,
    waitSeconds: summary(waits),
    waited15sShare: waits.length === 0 ? 0 : waits.filter((w) => w >= 15).length / waits.length,
    chats: durations.length,
    chatSeconds: summary(durations),
  };
}

function summary(values: readonly number[]): { mean: number; p50: number; max: number } {
  if (values.length === 0) return { mean: 0, p50: 0, max: 0 };
  const sorted = [...values].sort((a, b) => a - b);
  const round = (n: number) => Math.round(n * 1000) / 1000;
  return {
    mean: round(sorted.reduce((a, b) => a + b, 0) / sorted.length),
    p50: round(sorted[Math.floor((sorted.length - 1) / 2)] as number),
    max: round(sorted[sorted.length - 1] as number),
  };
}
