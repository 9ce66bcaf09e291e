/**
 * A small XML reader for PASCAL VOC annotation files: elements, attributes, text, CDATA and the
 * predefined and numeric entities. It skips the XML declaration, processing instructions, comments
 * and a DOCTYPE, and tolerates a BOM, CRLF line ends and self-closing tags (all seen in files written by
 * labelImg, CVAT and Roboflow). Namespaces, DTD validation and custom entities are out of scope.
 * Malformed structure (mismatched or unclosed tags) is a DatasetFormatError with the line number.
 */
import { DatasetFormatError } from '../../errors.ts';

export interface XmlElement {
  name: string;
  attributes: Record<string, string>;
  children: XmlElement[];
  /** Concatenated text directly inside this element (not its children's), entities decoded. */
  text: string;
}

export function parseXml(source: string, file: string): XmlElement {
  const s = source.charCodeAt(0) === 0xfeff ? source.slice(1) : source;
  const fail = (at: number, problem: string): never => {
    throw new DatasetFormatError(file, `invalid XML at line ${lineOf(s, at)}: ${problem}`);
  };
  const stack: XmlElement[] = [];
  let root: XmlElement | undefined;
  let i = 0;
  while (i < s.length) {
    const lt = s.indexOf('<', i);
    const textEnd = lt < 0 ? s.length : lt;
    if (textEnd > i) {
      const text = s.slice(i, textEnd);
      if (stack.length) stack[stack.length - 1]!.text += decodeEntities(text);
      else if (text.trim()) fail(i, 'text outside the root element');
    }
    if (lt < 0) break;
    i = lt;
    if (s.startsWith('<?', i)) i = skipPast(s, i, '?>', fail);
    else if (s.startsWith('<!--', i)) i = skipPast(s, i, '-->', fail);
    else if (s.startsWith('<![CDATA[', i)) {
      const end = skipPast(s, i, ']]>', fail);
      if (!stack.length) fail(i, 'CDATA outside the root element');
      stack[stack.length - 1]!.text += s.slice(i + 9, end - 3);
      i = end;
    } else if (s.startsWith('<!', i)) i = skipDoctype(s, i, fail);
    else if (s.startsWith('</', i)) {
      const end = s.indexOf('>', i);
      if (end < 0) fail(i, 'unterminated closing tag');
      const name = s.slice(i + 2, end).trim();
      const open = stack.pop();
      if (!open) fail(i, `closing tag </${name}> without an opening tag`);
      else if (open.name !== name) fail(i, `closing tag </${name}> does not match <${open.name}>`);
      i = end + 1;
    } else {
      const { element, selfClosing, end } = readStartTag(s, i, fail);
      if (stack.length) stack[stack.length - 1]!.children.push(element);
      else if (root) fail(i, `second root element <${element.name}>`);
      else root = element;
      if (!selfClosing) stack.push(element);
      i = end;
    }
  }
  if (stack.length) fail(s.length, `<${stack[stack.length - 1]!.name}> is never closed`);
  if (!root) return fail(0, 'no root element');
  return root;
}

/** First child element with this name (case-insensitive). */
export function child(element: XmlElement, name: string): XmlElement | undefined {
  const lower = name.toLowerCase();
  return element.children.find((c) => c.name.toLowerCase() === lower);
}

export function childrenNamed(element: XmlElement, name: string): XmlElement[] {
  const lower = name.toLowerCase();
  return element.children.filter((c) => c.name.toLowerCase() === lower);
}

/** Trimmed text of the first child with this name, or undefined if there is no such child. */
export function childText(element: XmlElement, name: string): string | undefined {
  return child(element, name)?.text.trim();
}

type Fail = (at: number, problem: string) => never;

function readStartTag(
  s: string,
  start: number,
  fail: Fail,
): { element: XmlElement; selfClosing: boolean; end: number } {
  const nameMatch = /^<([A-Za-z_:][\w.:-]*)/.exec(s.slice(start, start + 256));
  if (!nameMatch) return fail(start, 'expected a tag name after "<"');
  const element: XmlElement = { name: nameMatch[1]!, attributes: {}, children: [], text: '' };
  const attribute = /\s*([A-Za-z_:][\w.:-]*)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>/]+))/y;
  let i = start + nameMatch[0].length;
  for (;;) {
    while (i < s.length && /\s/.test(s[i]!)) i++;
    if (i >= s.length) return fail(start, `unterminated tag <${element.name}>`);
    if (s[i] === '>') return { element, selfClosing: false, end: i + 1 };
    if (s.startsWith('/>', i)) return { element, selfClosing: true, end: i + 2 };
    attribute.lastIndex = i;
    const m = attribute.exec(s);
    if (!m) return fail(i, `malformed attribute in <${element.name}>`);
    element.attributes[m[1]!] = decodeEntities(m[2] ?? m[3] ?? m[4] ?? '');
    i = attribute.lastIndex;
  }
}

function skipPast(s: string, start: number, terminator: string, fail: Fail): number {
  const end = s.indexOf(terminator, start);
  if (end < 0) fail(start, `missing "${terminator}"`);
  return end + terminator.length;
}

/** A DOCTYPE may carry an internal subset in brackets, which can itself contain ">". */
function skipDoctype(s: string, start: number, fail: Fail): number {
  let depth = 0;
  for (let i = start + 2; i < s.length; i++) {
    if (s[i] === '[') depth++;
    else if (s[i] === ']') depth--;
    else if (s[i] === '>' && depth <= 0) return i + 1;
  }
  return fail(start, 'unterminated <!...> declaration');
}

const NAMED_ENTITIES: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

function decodeEntities(text: string): string {
  if (!text.includes('&')) return text;
  return text.replace(/&(#x[0-9a-fA-F]+|#\d+|[A-Za-z]+);/g, (whole, body: string) => {
    if (body[0] === '#') {
      const code = body[1] === 'x' ? parseInt(body.slice(2), 16) : parseInt(body.slice(1), 10);
      return code <= 0x10ffff ? String.fromCodePoint(code) : whole;
    }
    return NAMED_ENTITIES[body] ?? whole;
  });
}

function lineOf(s: string, at: number): number {
  let line = 1;
  for (let i = 0; i < at && i < s.length; i++) if (s.charCodeAt(i) === 10) line++;
  return line;
}
