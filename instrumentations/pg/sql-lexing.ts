/**
 * Character classes and literal scanners of PostgreSQL's lexical structure (PostgreSQL documentation, "SQL
 * Syntax — Lexical Structure"), shared by the sanitizer and the summary parser. Every scanner walks forward
 * only and returns the index just past what it read, so a whole statement is read in linear time.
 */
const charCodeAt: (this: string, index: number) => number = String.prototype.charCodeAt; // called as charCodeAt.call(s, i): why, at charCodeAt in src/exporters/otlp/protobuf-writer.ts

export const enum Char {
  Tab = 9,
  LineFeed = 10,
  VerticalTab = 11,
  FormFeed = 12,
  CarriageReturn = 13,
  Space = 32,
  DoubleQuote = 34,
  Dollar = 36,
  Ampersand = 38,
  Quote = 39,
  Star = 42,
  Plus = 43,
  Minus = 45,
  Dot = 46,
  Slash = 47,
  Zero = 48,
  Nine = 57,
  UpperA = 65,
  UpperB = 66,
  UpperE = 69,
  UpperN = 78,
  UpperO = 79,
  UpperU = 85,
  UpperX = 88,
  UpperZ = 90,
  Backslash = 92,
  Underscore = 95,
  LowerA = 97,
  LowerB = 98,
  LowerE = 101,
  LowerN = 110,
  LowerO = 111,
  LowerU = 117,
  LowerX = 120,
  LowerZ = 122,
}

export function isWhitespace(c: number): boolean {
  return c === Char.Space || (c >= Char.Tab && c <= Char.CarriageReturn);
}

export function isDigit(c: number): boolean {
  return c >= Char.Zero && c <= Char.Nine;
}

/** A letter, `_`, or any non-ASCII character: what an unquoted identifier may start with. */
export function isIdentifierStart(c: number): boolean {
  return (c >= Char.LowerA && c <= Char.LowerZ) || (c >= Char.UpperA && c <= Char.UpperZ) || c === Char.Underscore || c >= 128;
}

/** Identifier characters after the first also include digits and `$`. */
export function isIdentifierPart(c: number): boolean {
  return isIdentifierStart(c) || isDigit(c) || c === Char.Dollar;
}

/** Dollar-quote tags are identifiers without `$`. */
function isTagPart(c: number): boolean {
  return isIdentifierStart(c) || isDigit(c);
}

/** End of an unquoted identifier or keyword starting at `start`. */
export function scanIdentifier(text: string, start: number): number {
  let i = start + 1;
  const n = text.length;
  while (i < n && isIdentifierPart(charCodeAt.call(text, i))) i++;
  return i;
}

/**
 * End of a single-quoted string whose opening quote is at `open`. `''` is a quote inside the string; with
 * `backslashEscapes` (E'…' strings) a backslash escapes the next character. Unterminated: the end of the text.
 * Plain strings treat backslashes as ordinary characters (standard_conforming_strings, on by default since 9.1).
 */
export function scanString(text: string, open: number, backslashEscapes: boolean): number {
  const n = text.length;
  let i = open + 1;
  if (!backslashEscapes) {
    for (;;) {
      const close = text.indexOf("'", i);
      if (close === -1) return n;
      if (charCodeAt.call(text, close + 1) !== Char.Quote) return close + 1;
      i = close + 2;
    }
  }
  while (i < n) {
    const c = charCodeAt.call(text, i);
    if (c === Char.Backslash) i += 2;
    else if (c === Char.Quote) {
      if (charCodeAt.call(text, i + 1) !== Char.Quote) return i + 1;
      i += 2;
    } else i++;
  }
  return n;
}

/** End of a double-quoted identifier (`""` is a quote inside it). Unterminated: the end of the text. */
export function scanQuotedIdentifier(text: string, open: number): number {
  let i = open + 1;
  for (;;) {
    const close = text.indexOf('"', i);
    if (close === -1) return text.length;
    if (charCodeAt.call(text, close + 1) !== Char.DoubleQuote) return close + 1;
    i = close + 2;
  }
}

/** End of a `--` comment (the line break is not part of it). */
export function scanLineComment(text: string, start: number): number {
  const n = text.length;
  let i = start + 2;
  while (i < n) {
    const c = charCodeAt.call(text, i);
    if (c === Char.LineFeed || c === Char.CarriageReturn) return i;
    i++;
  }
  return n;
}

/** End of a `/* … *\/` comment; PostgreSQL nests them. Unterminated: the end of the text. */
export function scanBlockComment(text: string, start: number): number {
  const n = text.length;
  let depth = 1;
  let i = start + 2;
  while (i < n) {
    const c = charCodeAt.call(text, i);
    if (c === Char.Slash && charCodeAt.call(text, i + 1) === Char.Star) {
      depth++;
      i += 2;
    } else if (c === Char.Star && charCodeAt.call(text, i + 1) === Char.Slash) {
      i += 2;
      if (--depth === 0) return i;
    } else i++;
  }
  return n;
}

/**
 * At a `$` that starts a token: the end of a dollar-quoted string (`$$…$$`, `$tag$…$tag$`), or -1 when the `$`
 * does not open one (a `$1` parameter, or a lone `$`). Unterminated: the end of the text.
 */
export function scanDollarQuoted(text: string, start: number): number {
  const n = text.length;
  let i = start + 1;
  if (i < n && isIdentifierStart(charCodeAt.call(text, i))) {
    i++;
    while (i < n && isTagPart(charCodeAt.call(text, i))) i++;
  }
  if (i >= n || charCodeAt.call(text, i) !== Char.Dollar) return -1;
  const tag = text.slice(start, i + 1);
  const close = text.indexOf(tag, i + 1);
  return close === -1 ? n : close + tag.length;
}

/** End of a `$1` positional parameter, or -1 when no digit follows the `$`. */
export function scanParameter(text: string, start: number): number {
  let i = start + 1;
  const n = text.length;
  if (i >= n || !isDigit(charCodeAt.call(text, i))) return -1;
  while (i < n && isDigit(charCodeAt.call(text, i))) i++;
  return i;
}

/**
 * End of a numeric constant starting at `start` (a digit, or a `.` before a digit): decimal with optional
 * fraction and exponent, `0x`/`0o`/`0b` integers and `_` digit separators (PostgreSQL 16). Letters glued to
 * the number are taken with it, so no part of a malformed constant is left behind.
 */
export function scanNumber(text: string, start: number): number {
  const n = text.length;
  let i = start;
  const c0 = charCodeAt.call(text, i);
  if (c0 === Char.Zero && i + 1 < n) {
    const c1 = charCodeAt.call(text, i + 1) | 0x20;
    if (c1 === Char.LowerX || c1 === Char.LowerO || c1 === Char.LowerB) {
      i += 2;
      while (i < n && isIdentifierPart(charCodeAt.call(text, i))) i++;
      return i;
    }
  }
  while (i < n && (isDigit(charCodeAt.call(text, i)) || charCodeAt.call(text, i) === Char.Underscore)) i++;
  if (i < n && charCodeAt.call(text, i) === Char.Dot) {
    i++;
    while (i < n && (isDigit(charCodeAt.call(text, i)) || charCodeAt.call(text, i) === Char.Underscore)) i++;
  }
  if (i < n && (charCodeAt.call(text, i) | 0x20) === Char.LowerE) {
    let j = i + 1;
    const sign = charCodeAt.call(text, j);
    if (sign === Char.Plus || sign === Char.Minus) j++;
    if (j < n && isDigit(charCodeAt.call(text, j))) {
      i = j;
      while (i < n && isDigit(charCodeAt.call(text, i))) i++;
    }
  }
  while (i < n && isIdentifierPart(charCodeAt.call(text, i))) i++;
  return i;
}

/**
 * When the identifier `text[start, end)` is a string-constant prefix followed by a quote — E'…' (escapes),
 * B'…' (bits), X'…' (hex), N'…' (national), U&'…' (Unicode) — the end of that constant; otherwise -1.
 */
export function scanPrefixedString(text: string, start: number, end: number): number {
  const length = end - start;
  const c = charCodeAt.call(text, start) | 0x20;
  if (length === 1 && charCodeAt.call(text, end) === Char.Quote) {
    if (c === Char.LowerE) return scanString(text, end, true);
    if (c === Char.LowerB || c === Char.LowerX || c === Char.LowerN) return scanString(text, end, false);
    return -1;
  }
  if (length === 1 && c === Char.LowerU && charCodeAt.call(text, end) === Char.Ampersand && charCodeAt.call(text, end + 1) === Char.Quote) {
    return scanString(text, end + 1, false);
  }
  return -1;
}

/** Whether `text[start, end)` spells `word` (given in lower case), ignoring ASCII case. */
export function isWord(text: string, start: number, end: number, word: string): boolean {
  if (end - start !== word.length) return false;
  for (let i = 0; i < word.length; i++) {
    if ((charCodeAt.call(text, start + i) | 0x20) !== charCodeAt.call(word, i)) return false;
  }
  return true;
}
