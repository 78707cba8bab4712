/**
 * Sanitizing `db.query.text` (semantic-conventions docs/database/database-spans.md, "Sanitization of
 * db.query.text"): every literal becomes `?` — strings ('…' with '' inside, E'…' with backslash escapes, B'…',
 * X'…', N'…', U&'…'), dollar-quoted strings ($$…$$, $tag$…$tag$), numbers (not digits inside identifiers such as
 * table1, nor $1 parameters), and the Boolean literals TRUE and FALSE. NULL stays: it carries no data and
 * `IS NULL` would read as `IS ?`. Identifiers, quoted identifiers, keywords, operators and `$n` placeholders are
 * kept as written.
 *
 * Comments are dropped: the conventions ask for sanitization that "excludes sensitive information", and a
 * comment is free text (names, e-mail addresses, and — from sqlcommenter-style tools — a traceparent that makes
 * every query text unique). A dropped comment leaves one space where tokens would otherwise touch.
 *
 * One forward pass, no regular expressions: linear in the text, and it stops as soon as `maxLength` characters
 * of output exist (the conventions allow truncating the sanitized value for performance).
 */
import { truncateString } from '../../src/trace/attributes';
import {
  Char,
  isDigit,
  isIdentifierStart,
  isWhitespace,
  isWord,
  scanBlockComment,
  scanDollarQuoted,
  scanIdentifier,
  scanLineComment,
  scanNumber,
  scanParameter,
  scanPrefixedString,
  scanQuotedIdentifier,
  scanString,
} from './sql-lexing';
const charCodeAt: (this: string, index: number) => number = String.prototype.charCodeAt; // called as charCodeAt.call(s, i): why, at charCodeAt in src/exporters/otlp/protobuf-writer.ts

export const PLACEHOLDER = '?';

export function sanitizeSql(text: string, maxLength: number = Infinity): string {
  const n = text.length;
  let out = '';
  // text[copyFrom, i) is kept as written and not yet appended to `out`.
  let copyFrom = 0;
  let i = 0;
  while (i < n && out.length + (i - copyFrom) < maxLength) {
    const c = charCodeAt.call(text, i);
    let literalEnd = -1;
    if (c === Char.Quote) {
      literalEnd = scanString(text, i, false);
    } else if (isIdentifierStart(c)) {
      const end = scanIdentifier(text, i);
      literalEnd = scanPrefixedString(text, i, end);
      if (literalEnd === -1) {
        if (isWord(text, i, end, 'true') || isWord(text, i, end, 'false')) literalEnd = end;
        else {
          // U&"…" is a quoted identifier: keep it whole so its content is not read as SQL.
          const unicodeQuoted =
            end - i === 1 && charCodeAt.call(text, end) === Char.Ampersand && charCodeAt.call(text, end + 1) === Char.DoubleQuote;
          i = unicodeQuoted ? scanQuotedIdentifier(text, end + 1) : end;
          continue;
        }
      }
    } else if (isDigit(c) || (c === Char.Dot && isDigit(charCodeAt.call(text, i + 1)))) {
      literalEnd = scanNumber(text, i);
    } else if (c === Char.Dollar) {
      literalEnd = scanDollarQuoted(text, i);
      if (literalEnd === -1) {
        const parameterEnd = scanParameter(text, i);
        i = parameterEnd === -1 ? i + 1 : parameterEnd;
        continue;
      }
    } else if (c === Char.DoubleQuote) {
      i = scanQuotedIdentifier(text, i);
      continue;
    } else if (
      (c === Char.Minus && charCodeAt.call(text, i + 1) === Char.Minus) ||
      (c === Char.Slash && charCodeAt.call(text, i + 1) === Char.Star)
    ) {
      const end = c === Char.Minus ? scanLineComment(text, i) : scanBlockComment(text, i);
      out += text.slice(copyFrom, i);
      copyFrom = i = afterComment(text, end, out);
      // Tokens on both sides of the comment must stay apart (`a/*x*/b`, and `-/*x*/-`, which must not become `--`).
      if (i >= n) out = out.trimEnd();
      else if (!isWhitespace(charCodeAt.call(text, i)) && out !== '' && !endsWithWhitespace(out)) out += ' ';
      continue;
    } else {
      i++;
      continue;
    }
    out += text.slice(copyFrom, i) + PLACEHOLDER;
    copyFrom = i = literalEnd;
  }
  out += text.slice(copyFrom, i);
  if (out.length > maxLength) out = truncateString(out, maxLength);
  // The scan stops by UTF-16 units: a cut between the two halves of a character outside the Basic Multilingual
  // Plane would leave half of it, which the exporter could only send as U+FFFD.
  if (i < n && out !== '') {
    const last = charCodeAt.call(out, out.length - 1);
    if (last >= 0xd800 && last <= 0xdbff) out = out.slice(0, -1);
  }
  return out;
}

function endsWithWhitespace(s: string): boolean {
  return s !== '' && isWhitespace(charCodeAt.call(s, s.length - 1));
}

/**
 * Where to go on after a dropped comment ending at `end`: past the whitespace that follows it when the output
 * already ends with whitespace (or is empty), so dropping `/* x *\/` from `a /* x *\/ b` leaves `a b`.
 */
function afterComment(text: string, end: number, out: string): number {
  if (out !== '' && !endsWithWhitespace(out)) return end;
  let i = end;
  while (i < text.length && isWhitespace(charCodeAt.call(text, i))) i++;
  return i;
}
