// An example third-party hook, written against porter's public API: with a priority, it turns
// every message in its channels to upper case before other hooks (and bridges) see it.
import { Hook, RichText, type SentMessage, z } from 'porter';

const configSchema = z.strictObject({
  /** Channels to shout in; others pass untouched. */
  channels: z.array(z.string()).default([]),
});

export class ShoutHook extends Hook<z.output<typeof configSchema>> {
  static readonly configSchema = () => configSchema;

  override beforeReceive(sent: SentMessage): SentMessage {
    const name = this.host.nameOf(sent.channel);
    if (!sent.text || (this.config.channels.length > 0 && !(name && this.config.channels.includes(name)))) return sent;
    return { ...sent, text: new RichText(sent.text.segments.map((s) => ({ ...s, text: s.text.toUpperCase() }))) };
  }
}
