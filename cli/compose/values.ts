// Values Compose writes in more than one form: command lines given as one string, split as a
// shell would (without expansions), and key=value sets given as a mapping or a list. Durations,
// sizes and CPU counts are spec/'s, as the CLI's flags are (./deploy-section.ts).
import type { Node } from './reader.js';

/**
 * `httpd -f -p 80 -h "/www root"` → words, as a POSIX shell splits them (quotes and backslashes;
 * no variables or globs: Compose does the same). Undefined for an unclosed quote.
 */
export function shellWords(text: string): string[] | undefined {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  let quote: '"' | "'" | undefined;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quote === "'") {
      if (c === "'") quote = undefined;
      else word += c;
    } else if (quote === '"') {
      if (c === '"') quote = undefined;
      else if (c === '\\' && i + 1 < text.length && '"\\$`'.includes(text[i + 1]!)) word += text[++i];
      else word += c;
    } else if (c === "'" || c === '"') {
      quote = c;
      inWord = true;
    } else if (c === '\\' && i + 1 < text.length) {
      word += text[++i];
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
    } else {
      word += c;
      inWord = true;
    }
  }
  if (quote) return undefined;
  if (inWord) words.push(word);
  return words;
}

/** A mapping's values as text (a key without a value: an empty one). */
export function stringMap(n: Node): Record<string, string> {
  return Object.fromEntries(n.entries().map(([k, v]) => [k, v.present ? v.text() : '']));
}

/** `labels:` as a mapping or a list of `k=v` (a bare `k` is an empty value), as Docker takes them. */
export function labels(n: Node): Record<string, string> {
  if (n.isMap() || !n.present) return stringMap(n);
  return Object.fromEntries(
    n.items().map((item) => {
      const s = item.text();
      const eq = s.indexOf('=');
      return eq < 0 ? [s, ''] : [s.slice(0, eq), s.slice(eq + 1)];
    }),
  );
}
