// The message model's renderings: what a network without formatting, Markdown or HTML receives.

import { RichText, renderPlain } from 'porter';
import { describe, expect, it } from 'vitest';

const rich = new RichText([
  { text: 'Room ' },
  { text: 'B12', bold: true },
  { text: ' is ' },
  { text: 'free', italic: true },
  { text: ': ' },
  { text: 'book it', link: 'https://example.org/b12?a=1&b=2' },
  { text: ' with ' },
  { text: 'porter book', code: true },
  { text: ' <now>' },
]);

describe('RichText', () => {
  it('renders plain text with links spelled out', () => {
    expect(rich.toPlain()).toBe('Room B12 is free: book it (https://example.org/b12?a=1&b=2) with porter book <now>');
  });
  it('renders Markdown with its special characters escaped', () => {
    expect(rich.toMarkdown()).toBe('Room **B12** is _free_: [book it](https://example.org/b12?a=1&b=2) with `porter book` <now>');
    expect(RichText.plain('a*b_c').toMarkdown()).toBe('a\\*b\\_c');
  });
  it('renders HTML with everything escaped', () => {
    expect(rich.toHtml()).toBe(
      'Room <strong>B12</strong> is <em>free</em>: <a href="https://example.org/b12?a=1&#38;b=2">book it</a> with <code>porter book</code> &#60;now&#62;',
    );
    expect(new RichText([{ text: 'x\ny', pre: true }]).toHtml()).toBe('<pre>x\ny</pre>');
  });
  it('counts, concatenates and maps without changing the original', () => {
    const a = RichText.plain('ab');
    const b = a.concat(' ', { text: 'cd', bold: true });
    expect(a.toPlain()).toBe('ab');
    expect(b.toPlain()).toBe('ab cd');
    expect(b.length).toBe(5);
    expect(b.map((s) => ({ ...s, text: s.text.toUpperCase() })).toPlain()).toBe('AB CD');
  });
});

describe('renderPlain', () => {
  const ada = { id: 'ada', realName: 'Ada' };
  it('renders the kinds of message a network without formatting gets', () => {
    expect(renderPlain({ user: ada, text: RichText.plain('hi') })).toBe('<Ada> hi');
    expect(renderPlain({ user: ada, text: RichText.plain('waves'), action: true })).toBe('* Ada waves');
    expect(renderPlain({ user: ada, text: RichText.plain('fixed'), edited: true })).toBe('<Ada> fixed [edited]');
    expect(renderPlain({ user: ada, deleted: true })).toBe('Ada deleted a message');
    expect(renderPlain({ joined: [ada, { id: 'tim' }] })).toBe('Ada, tim joined');
    expect(renderPlain({ user: ada, attachments: [{ name: 'plan.pdf', type: 'application/pdf', url: 'https://x/plan.pdf' }] })).toBe(
      '<Ada> [file: plan.pdf https://x/plan.pdf]',
    );
  });
  it('quotes what a reply answers', () => {
    const question = {
      id: '1',
      channel: undefined as never,
      at: new Date(),
      user: { id: 'tim' },
      text: RichText.plain('who has the projector?'),
    };
    expect(renderPlain({ user: ada, text: RichText.plain('I do'), replyTo: question })).toBe('<Ada> [re tim: who has the projector?] I do');
  });
});
