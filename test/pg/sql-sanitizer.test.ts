import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { sanitizeSql } from '../../instrumentations/pg/sql-sanitizer';

describe('sanitizeSql: literals become ?', () => {
  const cases: Array<[string, string]> = [
    ["SELECT * FROM users WHERE name = 'alice'", 'SELECT * FROM users WHERE name = ?'],
    ["SELECT 'it''s' AS a", 'SELECT ? AS a'],
    ["SELECT E'it\\'s \\\\ here' AS a, 'plain\\' AS b", 'SELECT ? AS a, ? AS b'],
    ["SELECT e'x', B'0101', b'1', X'1F', x'ff', N'nat', U&'d\\0061t'", 'SELECT ?, ?, ?, ?, ?, ?, ?'],
    ['SELECT $$dollar body$$, $tag$ with $$ inside $tag$, $a1$x$a1$', 'SELECT ?, ?, ?'],
    ['SELECT 42, -7, 3.14, .5, 1e10, 2.5E-3, 0x1F, 0o17, 0b101, 1_000_000', 'SELECT ?, -?, ?, ?, ?, ?, ?, ?, ?, ?'],
    ['SELECT * FROM table1 JOIN t2 ON table1.c3 = t2.c4 WHERE id = $1 AND v = $12', 'SELECT * FROM table1 JOIN t2 ON table1.c3 = t2.c4 WHERE id = $1 AND v = $12'],
    ['SELECT a$1, b$$ FROM t', 'SELECT a$1, b$$ FROM t'],
    ['SELECT TRUE, false, NULL, null FROM t WHERE x IS NULL', 'SELECT ?, ?, NULL, null FROM t WHERE x IS NULL'],
    ["SELECT interval '1 day', DATE '2024-01-01', '{1,2}'::int[]", 'SELECT interval ?, DATE ?, ?::int[]'],
    ['SELECT "we\'ird ""col""" FROM "T1"', 'SELECT "we\'ird ""col""" FROM "T1"'],
    ['SELECT U&"d\\0061t\'x" FROM t', 'SELECT U&"d\\0061t\'x" FROM t'],
    ['INSERT INTO t (a, b) VALUES (1, \'x\'), (2, \'y\')', 'INSERT INTO t (a, b) VALUES (?, ?), (?, ?)'],
    ['SELECT ARRAY[1, 2, 3]', 'SELECT ARRAY[?, ?, ?]'],
  ];
  for (const [input, expected] of cases) {
    it(input, () => expect(sanitizeSql(input)).toBe(expected));
  }
});

describe('sanitizeSql: comments are dropped (they are free text)', () => {
  it('drops line and block comments, nested ones included', () => {
    expect(sanitizeSql("SELECT 1 -- user alice@example.com\nFROM t")).toBe('SELECT ? FROM t');
    expect(sanitizeSql('SELECT a /* outer /* nested */ still */ FROM t')).toBe('SELECT a FROM t');
    expect(sanitizeSql("/* traceparent='00-abc' */ SELECT 1")).toBe('SELECT ?');
    expect(sanitizeSql('SELECT 1 /* trailing */')).toBe('SELECT ?');
  });
  it('keeps tokens apart where a comment separated them', () => {
    expect(sanitizeSql('SELECT a/*x*/FROM t')).toBe('SELECT a FROM t');
    // Two minus signs must not become a line comment when sanitized again.
    expect(sanitizeSql('SELECT 1 -/**/-1')).toBe('SELECT ? - -?');
  });
  it('does not read comment markers inside strings, or quotes inside comments', () => {
    expect(sanitizeSql("SELECT '-- not a comment', '/* nor this */' FROM t")).toBe('SELECT ?, ? FROM t');
    expect(sanitizeSql("SELECT 1 /* it's */ FROM t WHERE a = 'b'")).toBe('SELECT ? FROM t WHERE a = ?');
  });
});

describe('sanitizeSql: malformed input', () => {
  it('replaces an unterminated literal up to the end', () => {
    expect(sanitizeSql("SELECT 'never closed")).toBe('SELECT ?');
    expect(sanitizeSql('SELECT $x$ never closed')).toBe('SELECT ?');
    expect(sanitizeSql("SELECT E'never \\' closed")).toBe('SELECT ?');
  });
  it('drops an unterminated comment up to the end', () => {
    expect(sanitizeSql('SELECT a /* never closed')).toBe('SELECT a');
  });
  it('leaves a text without literals as it was', () => {
    const text = 'SELECT id, name FROM users WHERE id = $1 ORDER BY name LIMIT $2';
    expect(sanitizeSql(text)).toBe(text);
    expect(sanitizeSql('')).toBe('');
  });
});

describe('sanitizeSql: length bound', () => {
  it('stops at maxLength characters of output', () => {
    expect(sanitizeSql("SELECT 'abc' FROM tablename", 10)).toBe('SELECT ? F');
    expect(sanitizeSql('SELECT 1', 0)).toBe('');
  });
  it('reads a huge statement in linear time without keeping more than it needs', () => {
    const values = Array.from({ length: 20000 }, (_, i) => `(${i}, 'name ${i}', E'x\\'${i}', $$d${i}$$)`).join(', ');
    const text = `INSERT INTO t (a, b, c, d) VALUES ${values}`;
    const sanitized = sanitizeSql(text);
    expect(sanitized.startsWith('INSERT INTO t (a, b, c, d) VALUES (?, ?, ?, ?), (?, ?, ?, ?)')).toBe(true);
    expect(sanitized).not.toMatch(/name|\d/);
    expect(sanitizeSql(text, 100)).toHaveLength(100);
    // Pathological inputs for backtracking scanners: long runs of quotes, dollars, dashes and stars.
    for (const run of ["'".repeat(100001), '$'.repeat(100001), '-'.repeat(100001), '/*'.repeat(50001), 'E'.repeat(100001) + "'"]) {
      expect(typeof sanitizeSql(run)).toBe('string');
    }
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Properties

/** SQL-ish text made of realistic fragments, including every literal and comment form. */
const fragment = fc.oneof(
  fc.constantFrom('SELECT', 'FROM', 'WHERE', 'AND', '*', ',', '(', ')', ';', '=', '-', '/', '.', '::', ' ', '\n', 'IN', 'table1', 't2', '$1', '$$', '$'),
  fc.string({ maxLength: 8 }),
  fc.string({ maxLength: 8 }).map((s) => `'${s}'`),
  fc.string({ maxLength: 8 }).map((s) => `E'${s}'`),
  fc.string({ maxLength: 8 }).map((s) => `"${s}"`),
  fc.string({ maxLength: 8 }).map((s) => `/*${s}*/`),
  fc.string({ maxLength: 8 }).map((s) => `--${s}\n`),
  fc.integer().map(String),
  fc.double({ noNaN: true }).map(String),
);
const sqlish = fc.array(fragment, { maxLength: 30 }).map((parts) => parts.join(' '));

/** Literal content that cannot be mistaken for the SQL around it. */
const secret = fc.string({ minLength: 1, maxLength: 20 }).map((s) => `ZQ${s}QZ`);

/** A literal holding `secret`, written as an application would (escaped where the form needs it). */
const literalOf = (content: string, form: number): string => {
  switch (form) {
    case 0:
      return `'${content.replace(/'/g, "''")}'`;
    case 1:
      return `E'${content.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
    case 2: {
      let tag = 'q';
      while (content.includes(`$${tag}$`)) tag += 'q';
      return `$${tag}$${content}$${tag}$`;
    }
    default:
      // No `$$` may appear inside: every `$` gets a space after it (replacing `$$` by `$ $` would make a new `$$`
      // out of `$$$`).
      return `$$${content.replace(/\$/g, '$ ')}$$`;
  }
};

describe('sanitizeSql: properties', () => {
  it('never throws and never grows the text', () => {
    fc.assert(
      fc.property(fc.oneof(sqlish, fc.string({ maxLength: 200 }), fc.string({ unit: 'binary', maxLength: 100 })), (text) => {
        const out = sanitizeSql(text);
        expect(out.length).toBeLessThanOrEqual(text.length);
      }),
      { numRuns: 2000 },
    );
  });

  it('is idempotent', () => {
    fc.assert(
      fc.property(fc.oneof(sqlish, fc.string({ maxLength: 200 })), (text) => {
        const once = sanitizeSql(text);
        expect(sanitizeSql(once)).toBe(once);
      }),
      { numRuns: 2000 },
    );
  });

  it('never leaks the content of a string literal', () => {
    fc.assert(
      fc.property(secret, fc.integer({ min: 0, max: 3 }), sqlish, (content, form, tail) => {
        const text = `SELECT * FROM t WHERE a = ${literalOf(content, form)} AND b = 1 ${tail.includes('ZQ') ? '' : tail}`;
        const out = sanitizeSql(text);
        expect(out).not.toContain(content);
        expect(out.startsWith('SELECT * FROM t WHERE a = ? AND b = ?')).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });

  it('never leaks a number, and keeps identifiers with digits and $n placeholders', () => {
    fc.assert(
      fc.property(fc.oneof(fc.integer({ min: 0 }), fc.double({ min: 0, noNaN: true, noDefaultInfinity: true })), (n) => {
        const number = String(n);
        const text = `SELECT col1 FROM table2 WHERE a = ${number} AND b = $3`;
        expect(sanitizeSql(text)).toBe('SELECT col1 FROM table2 WHERE a = ? AND b = $3');
      }),
      { numRuns: 1000 },
    );
  });
});

describe('sanitizeSql cut at a length limit', () => {
  it('never leaves half of a character outside the Basic Multilingual Plane, and counts such a character once', () => {
    // Nine characters end with the first emoji: the tenth UTF-16 unit is the second half of that emoji.
    const cut = sanitizeSql('SELECT x\u{1F600}\u{1F600} FROM t', 9);
    expect(cut).toBe('SELECT x\u{1F600}');
    expect(/[\ud800-\udbff]$/.test(cut)).toBe(false);
    // A quoted identifier is read whole, then cut to 11 characters (13 UTF-16 units).
    expect(sanitizeSql('SELECT "\u{1F600}\u{1F600}" FROM t', 11)).toBe('SELECT "\u{1F600}\u{1F600}"');
  });
});
