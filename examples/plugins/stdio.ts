// An example third-party plug, written against porter's public API: the terminal as a network.
// Lines typed on standard input are messages in channel `console`; messages to it are printed.
import { createInterface, type Interface } from 'node:readline';
import { type Channel, type Message, Plug, type Receipt, RichText, renderPlain, z } from 'porter';

const configSchema = z.strictObject({
  /** How the person at the terminal is named. */
  user: z.string().default('operator'),
});

export class StdioPlug extends Plug<z.output<typeof configSchema>> {
  static readonly configSchema = () => configSchema;
  readonly network = 'Terminal';
  #lines: Interface | undefined;
  #next = 1;

  protected override async start(): Promise<void> {
    this.#lines = createInterface({ input: process.stdin });
    this.#lines.on('line', (line) => {
      if (!line.trim()) return;
      this.receive({
        id: `in-${this.#next++}`,
        channel: this.channel('console'),
        at: new Date(),
        user: { id: this.config.user, plug: this.name, username: this.config.user },
        text: RichText.plain(line),
      });
    });
  }

  protected override async stop(): Promise<void> {
    this.#lines?.close();
  }

  async send(channel: Channel, message: Message): Promise<Receipt[]> {
    process.stdout.write(`${renderPlain(message)}\n`);
    return [{ id: `out-${this.#next++}`, channel, at: new Date() }];
  }
}
