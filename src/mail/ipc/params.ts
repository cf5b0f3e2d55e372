/** Parameter checks for IPC handlers: a request with the wrong number of parameters is refused with a message that names them. */
import { IpcError, type IpcRequest } from '../protocol.js';

type Strings<N extends readonly string[]> = { -readonly [K in keyof N]: string };

/**
 * The request's parameters, when there are exactly as many as expected; otherwise an IpcError
 * (`"push" expects 2 parameters (queue ; slot), got 1`), which the server answers `error: …`.
 * Given names, the result is a tuple: `const [queue, slot] = expectParams(request, ['queue', 'slot'])`.
 */
export function expectParams<const N extends readonly string[]>(request: IpcRequest, names: N): Strings<N>;
export function expectParams(request: IpcRequest, count: number): string[];
export function expectParams(request: IpcRequest, expected: number | readonly string[]): string[] {
  const count = typeof expected === 'number' ? expected : expected.length;
  if (request.params.length !== count) {
    const named = typeof expected === 'number' || count === 0 ? '' : ` (${expected.join(' ; ')})`;
    const noun = count === 1 ? 'parameter' : 'parameters';
    throw new IpcError(`"${request.name}" expects ${count} ${noun}${named}, got ${request.params.length}`);
  }
  return [...request.params];
}
