/**
 * XML text from arbitrary strings (rule files, server certificates and error messages are all outside input).
 * One escape function for text and attribute values alike; characters XML 1.0 cannot carry at all (most C0
 * controls, lone surrogates, U+FFFE, U+FFFF) become U+FFFD, so the document always parses.
 */

/** Everything outside XML 1.0's `Char` production; with the `u` flag a lone surrogate is one code point here. */
const NOT_XML_CHAR = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu;

const ENTITIES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&apos;',
  // Escaped so that attribute-value normalisation keeps them: a message's line breaks survive in `message="…"`.
  '\t': '&#9;',
  '\n': '&#10;',
  '\r': '&#13;',
};

/** Safe inside an element and inside a double- or single-quoted attribute. */
export function xmlEscape(text: string): string {
  return text.replace(NOT_XML_CHAR, '\uFFFD').replace(/[&<>"'\t\n\r]/g, (ch) => ENTITIES[ch]!);
}

/** Like {@link xmlEscape}, but keeps tabs and line breaks literal: for element text, where they are kept as is. */
export function xmlText(text: string): string {
  return text.replace(NOT_XML_CHAR, '\uFFFD').replace(/[&<>]/g, (ch) => ENTITIES[ch]!).replace(/\r/g, '&#13;');
}

/** `name="value" …` for the attributes that have a value, in the order given. */
export function xmlAttributes(attributes: Record<string, string | number | undefined>): string {
  return Object.entries(attributes)
    .filter((entry): entry is [string, string | number] => entry[1] !== undefined)
    .map(([name, value]) => ` ${name}="${xmlEscape(String(value))}"`)
    .join('');
}
