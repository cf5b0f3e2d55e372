// Hooks for the routing benchmark: the cheap work a real prioritised hook does on every message.
import { Hook } from 'porter';

/** Counts messages per channel (a rate limiter's bookkeeping). */
export class CountHook extends Hook {
  counts = new Map();
  beforeReceive(sent) {
    this.counts.set(sent.channel.key, (this.counts.get(sent.channel.key) ?? 0) + 1);
    return sent;
  }
}

/** Drops messages containing a word (a spam filter); none of the benchmark's do. */
export class FilterHook extends Hook {
  beforeReceive(sent) {
    return sent.text?.toPlain().includes('forbidden') ? null : sent;
  }
}

/** Rewrites nothing but looks at every segment (a formatter). */
export class InspectHook extends Hook {
  beforeReceive(sent) {
    let n = 0;
    for (const s of sent.text?.segments ?? []) n += s.text.length;
    return n >= 0 ? sent : null;
  }
}
