/**
 * `db.query.summary` from a query text (semantic-conventions docs/database/database-spans.md, "Generating a
 * summary of the query"): the operations (SELECT, INSERT, …, CREATE TABLE) and their targets (tables,
 * procedures, prepared statements), in the order they appear, as written (no case normalization), at most
 * 255 characters and never cut inside an operation or a target.
 *
 *   SELECT * FROM wuser_table WHERE username = ?                 → SELECT wuser_table
 *   INSERT INTO shipping_details (…) SELECT … FROM orders …       → INSERT shipping_details SELECT orders
 *   SELECT * FROM songs, artists                                  → SELECT songs artists
 *   SELECT order_date FROM (SELECT * FROM orders o JOIN customers c ON …) → SELECT SELECT orders customers
 *
 * This is a cheap parse, not a SQL parser: one forward pass over the tokens, a little state per parenthesis
 * depth, no backtracking. When the text is something it does not understand it finds fewer operations, never
 * wrong ones from inside literals or comments (those are skipped by the lexer).
 *
 * The same pass reports whether the text has a comment (sqlcommenter must not touch such a statement) and the
 * single operation / collection / stored procedure when the text names exactly one (the only case in which the
 * conventions let `db.operation.name` and `db.collection.name` be read from the text).
 */
import {
  Char,
  isDigit,
  isIdentifierStart,
  isWhitespace,
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

/** database-spans.md: "SHOULD truncate the summary to 255 characters". */
export const MAX_SUMMARY_LENGTH = 255;

export interface SqlSummary {
  /** `{operation} {target} …`, or undefined when no operation was recognised. */
  summary: string | undefined;
  /** The operation, when the text has exactly one. */
  operationName: string | undefined;
  /** The table, when the text has exactly one operation and it works on exactly one table. */
  collectionName: string | undefined;
  /** The procedure of a lone CALL. */
  storedProcedureName: string | undefined;
  /** Whether the text contains a comment. */
  hasComment: boolean;
}

const enum Token {
  End,
  Word,
  QuotedIdentifier,
  Literal,
  OpenParen,
  CloseParen,
  Comma,
  Semicolon,
  Dot,
  Other,
}

/** A forward-only tokenizer with one token of lookahead; comments and whitespace are skipped. */
class Lexer {
  kind: Token = Token.End;
  start = 0;
  end = 0;
  hasComment = false;
  private _pos = 0;
  private _peeked = false;
  private _peekKind: Token = Token.End;
  private _peekStart = 0;
  private _peekEnd = 0;

  constructor(readonly text: string) {}

  next(): Token {
    if (this._peeked) {
      this._peeked = false;
      this.kind = this._peekKind;
      this.start = this._peekStart;
      this.end = this._peekEnd;
      return this.kind;
    }
    this.kind = this._read();
    this.start = this._peekStart;
    this.end = this._peekEnd;
    return this.kind;
  }

  /** The kind of the token after the current one (read once, then handed out by next()). */
  peek(): Token {
    if (!this._peeked) {
      this._peekKind = this._read();
      this._peeked = true;
    }
    return this._peekKind;
  }

  /** Reads one token into the _peek* fields. */
  private _read(): Token {
    const text = this.text;
    const n = text.length;
    let i = this._pos;
    for (;;) {
      while (i < n && isWhitespace(charCodeAt.call(text, i))) i++;
      if (i >= n) {
        this._peekStart = this._peekEnd = this._pos = n;
        return Token.End;
      }
      const c = charCodeAt.call(text, i);
      if (c === Char.Minus && charCodeAt.call(text, i + 1) === Char.Minus) {
        this.hasComment = true;
        i = scanLineComment(text, i);
        continue;
      }
      if (c === Char.Slash && charCodeAt.call(text, i + 1) === Char.Star) {
        this.hasComment = true;
        i = scanBlockComment(text, i);
        continue;
      }
      this._peekStart = i;
      let kind: Token;
      let end: number;
      if (isIdentifierStart(c)) {
        end = scanIdentifier(text, i);
        const stringEnd = scanPrefixedString(text, i, end);
        if (stringEnd !== -1) {
          end = stringEnd;
          kind = Token.Literal;
        } else if (end - i === 1 && (c | 0x20) === Char.LowerU && charCodeAt.call(text, end) === Char.Ampersand && charCodeAt.call(text, end + 1) === Char.DoubleQuote) {
          end = scanQuotedIdentifier(text, end + 1);
          kind = Token.QuotedIdentifier;
        } else kind = Token.Word;
      } else if (c === Char.DoubleQuote) {
        end = scanQuotedIdentifier(text, i);
        kind = Token.QuotedIdentifier;
      } else if (c === Char.Quote) {
        end = scanString(text, i, false);
        kind = Token.Literal;
      } else if (c === Char.Dollar) {
        end = scanDollarQuoted(text, i);
        if (end === -1) {
          const parameterEnd = scanParameter(text, i);
          end = parameterEnd === -1 ? i + 1 : parameterEnd;
          kind = Token.Other;
        } else kind = Token.Literal;
      } else if (isDigit(c) || (c === Char.Dot && isDigit(charCodeAt.call(text, i + 1)))) {
        end = scanNumber(text, i);
        kind = Token.Literal;
      } else {
        end = i + 1;
        kind =
          c === 40 ? Token.OpenParen : c === 41 ? Token.CloseParen : c === 44 ? Token.Comma : c === 59 ? Token.Semicolon : c === Char.Dot ? Token.Dot : Token.Other;
      }
      this._peekEnd = this._pos = end;
      return kind;
    }
  }
}

/** What a statement's first word means. */
const enum Statement {
  /** An operation with no target; the rest of the statement is not searched (GRANT SELECT … is no SELECT). */
  Alone,
  /** An operation whose next name is its target (CALL proc, EXECUTE plan, LOCK t, COPY t, PREPARE plan AS …). */
  Target,
  /** An operation followed by a list of tables (TRUNCATE a, b). */
  TargetList,
  /** An operation whose rest may hold queries (EXPLAIN SELECT …, DECLARE c CURSOR FOR SELECT …). */
  Prefix,
  /** CREATE / ALTER / DROP: the object type decides. */
  Definition,
}

const STATEMENT_KINDS = new Map<string, Statement>([
  ['BEGIN', Statement.Alone],
  ['COMMIT', Statement.Alone],
  ['ROLLBACK', Statement.Alone],
  ['START', Statement.Alone],
  ['END', Statement.Alone],
  ['ABORT', Statement.Alone],
  ['SAVEPOINT', Statement.Alone],
  ['RELEASE', Statement.Alone],
  ['SET', Statement.Alone],
  ['SHOW', Statement.Alone],
  ['RESET', Statement.Alone],
  ['LISTEN', Statement.Alone],
  ['UNLISTEN', Statement.Alone],
  ['NOTIFY', Statement.Alone],
  ['VACUUM', Statement.Alone],
  ['ANALYZE', Statement.Alone],
  ['CHECKPOINT', Statement.Alone],
  ['DISCARD', Statement.Alone],
  ['DO', Statement.Alone],
  ['GRANT', Statement.Alone],
  ['REVOKE', Statement.Alone],
  ['COMMENT', Statement.Alone],
  ['REFRESH', Statement.Alone],
  ['REINDEX', Statement.Alone],
  ['CLUSTER', Statement.Alone],
  ['FETCH', Statement.Alone],
  ['MOVE', Statement.Alone],
  ['CLOSE', Statement.Alone],
  ['DEALLOCATE', Statement.Alone],
  ['LOAD', Statement.Alone],
  ['SECURITY', Statement.Alone],
  ['IMPORT', Statement.Alone],
  ['CALL', Statement.Target],
  ['EXECUTE', Statement.Target],
  ['LOCK', Statement.Target],
  ['COPY', Statement.Target],
  ['TABLE', Statement.Target],
  ['PREPARE', Statement.Target],
  ['TRUNCATE', Statement.TargetList],
  ['EXPLAIN', Statement.Prefix],
  ['DECLARE', Statement.Prefix],
  ['VALUES', Statement.Prefix],
  ['CREATE', Statement.Definition],
  ['ALTER', Statement.Definition],
  ['DROP', Statement.Definition],
]);

/** Operations recognised anywhere in a statement (subqueries, CTEs, INSERT … SELECT). */
const QUERY_OPERATIONS = new Set(['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'MERGE']);

/**
 * Words after which SELECT/INSERT/UPDATE/DELETE are not operations: FOR UPDATE, FOR NO KEY UPDATE, ON DELETE
 * CASCADE, ON CONFLICT DO UPDATE, MERGE … THEN UPDATE / THEN INSERT / THEN DELETE, rules' DO INSTEAD.
 */
const NOT_AN_OPERATION_AFTER = new Set(['FOR', 'DO', 'ON', 'KEY', 'OF', 'THEN', 'INSTEAD', 'ALSO']);

/** Object types of CREATE / ALTER / DROP whose name is the target; CREATE … AS SELECT is searched further. */
const COLLECTION_OBJECTS = new Set(['TABLE', 'VIEW']);
/** Object types named in the operation only (CREATE INDEX, DROP FUNCTION); the rest is not searched. */
const OTHER_OBJECTS = new Set([
  'INDEX', 'SEQUENCE', 'SCHEMA', 'DATABASE', 'FUNCTION', 'PROCEDURE', 'TRIGGER', 'TYPE', 'EXTENSION', 'ROLE', 'USER',
  'DOMAIN', 'POLICY', 'RULE', 'AGGREGATE', 'COLLATION', 'SERVER', 'PUBLICATION', 'SUBSCRIPTION', 'TABLESPACE',
]);
/** Words between CREATE/DROP and the object type. */
const DEFINITION_MODIFIERS = new Set(['OR', 'REPLACE', 'TEMP', 'TEMPORARY', 'UNLOGGED', 'GLOBAL', 'LOCAL', 'UNIQUE', 'RECURSIVE', 'FOREIGN']);

/** Words skipped where a table name is expected. */
const NAME_MODIFIERS = new Set(['ONLY', 'LATERAL', 'TABLE', 'IF', 'NOT', 'EXISTS', 'CONCURRENTLY']);

/** Words that end a FROM list (aliases and JOIN kinds before them are read and ignored). */
const LIST_END = new Set([
  'WHERE', 'GROUP', 'ORDER', 'LIMIT', 'HAVING', 'WINDOW', 'UNION', 'INTERSECT', 'EXCEPT', 'RETURNING', 'ON', 'SET',
  'VALUES', 'FOR', 'OFFSET', 'FETCH', 'USING', 'WITH', 'TABLESAMPLE', 'RESTART', 'CONTINUE', 'CASCADE', 'RESTRICT',
]);

/** Operations whose single target is a collection (db.collection.name). */
const COLLECTION_OPERATIONS = new Set([
  'SELECT', 'INSERT', 'UPDATE', 'DELETE', 'MERGE', 'TRUNCATE', 'COPY', 'LOCK', 'TABLE',
  'CREATE TABLE', 'ALTER TABLE', 'DROP TABLE', 'CREATE VIEW', 'ALTER VIEW', 'DROP VIEW',
]);

const enum Expect {
  Nothing,
  /** One name (INSERT INTO t, UPDATE t, CALL p, CREATE TABLE t). */
  Name,
  /** An item of a table list (FROM a, b / JOIN c / TRUNCATE a, b): a name followed by `(` is a function, not a table. */
  ListItem,
}

/** Longest word that can be a keyword we look at (CONCURRENTLY, MATERIALIZED); longer words are never upper-cased. */
const LONGEST_KEYWORD = 12;

function keywordAt(text: string, start: number, end: number): string {
  return end - start <= LONGEST_KEYWORD ? text.slice(start, end).toUpperCase() : '';
}

export function summarizeSql(text: string): SqlSummary {
  const lexer = new Lexer(text);
  const parts: string[] = [];
  let length = 0;
  let full = false;
  let operations = 0;
  let targets = 0;
  let firstOperation: string | undefined;
  let firstOperationKeyword = '';
  let firstTarget: string | undefined;

  // Per parenthesis depth: the query operation active there ('' for none), and whether a table list is open.
  const operationAt: string[] = [''];
  const inListAt: boolean[] = [false];
  let depth = 0;
  let statementStart = true;
  let ignoreRest = false;
  let ignoreAfterName = false;
  let expect = Expect.Nothing;
  // The name expected starts a comma-separated list (DROP TABLE a, b).
  let nameStartsList = false;
  let previousKeyword = '';
  let previousWasDot = false;

  const add = (part: string): void => {
    if (full) return;
    const added = parts.length === 0 ? part.length : part.length + 1;
    if (length + added > MAX_SUMMARY_LENGTH) {
      full = true;
      return;
    }
    parts.push(part);
    length += added;
  };
  const addOperation = (operation: string, keyword: string): void => {
    if (++operations === 1) {
      firstOperation = operation;
      firstOperationKeyword = keyword;
    }
    add(operation);
  };
  const addTarget = (target: string): void => {
    if (++targets === 1) firstTarget = target;
    add(target);
  };

  for (let kind = lexer.next(); kind !== Token.End; kind = lexer.next()) {
    if (kind === Token.Semicolon) {
      depth = 0;
      operationAt[0] = '';
      inListAt[0] = false;
      statementStart = true;
      ignoreRest = ignoreAfterName = false;
      expect = Expect.Nothing;
      previousKeyword = '';
      previousWasDot = false;
      continue;
    }
    if (ignoreRest) continue;
    if (kind === Token.OpenParen) {
      // A parenthesis where a table was expected is a subquery (or a VALUES list): one item of the list.
      if (expect === Expect.ListItem) inListAt[depth] = true;
      expect = Expect.Nothing;
      depth++;
      operationAt[depth] = '';
      inListAt[depth] = false;
      previousKeyword = '';
      previousWasDot = false;
      continue;
    }
    if (kind === Token.CloseParen) {
      if (depth > 0) depth--;
      expect = Expect.Nothing;
      previousKeyword = '';
      previousWasDot = false;
      continue;
    }
    if (kind === Token.Comma) {
      if (inListAt[depth] && expect === Expect.Nothing) {
        expect = Expect.ListItem;
        inListAt[depth] = false;
      }
      previousKeyword = '';
      previousWasDot = false;
      continue;
    }
    if (kind !== Token.Word && kind !== Token.QuotedIdentifier) {
      expect = Expect.Nothing;
      previousKeyword = '';
      previousWasDot = kind === Token.Dot;
      continue;
    }

    const wordStart = lexer.start;
    const wordEnd = lexer.end;
    const keyword = kind === Token.Word ? keywordAt(text, wordStart, wordEnd) : '';

    if (expect !== Expect.Nothing) {
      if (NAME_MODIFIERS.has(keyword)) continue;
      // A name, possibly qualified: schema.table, "Quoted"."Name".
      let nameEnd = wordEnd;
      while (lexer.peek() === Token.Dot) {
        lexer.next();
        const after = lexer.peek();
        if (after !== Token.Word && after !== Token.QuotedIdentifier) break;
        lexer.next();
        nameEnd = lexer.end;
      }
      const isFunction = expect === Expect.ListItem && lexer.peek() === Token.OpenParen;
      if (!isFunction) addTarget(text.slice(wordStart, nameEnd));
      if (nameStartsList || expect === Expect.ListItem) inListAt[depth] = true;
      expect = Expect.Nothing;
      nameStartsList = false;
      previousKeyword = '';
      previousWasDot = false;
      if (ignoreAfterName) {
        ignoreRest = true;
        ignoreAfterName = false;
      }
      continue;
    }

    if (statementStart) {
      statementStart = false;
      const statement = STATEMENT_KINDS.get(keyword);
      if (statement === Statement.Definition) {
        readDefinition(lexer, text, wordStart, wordEnd, keyword);
        continue;
      }
      if (statement !== undefined) {
        addOperation(text.slice(wordStart, wordEnd), keyword);
        if (statement === Statement.Alone) ignoreRest = true;
        else if (statement === Statement.Target) expect = Expect.Name;
        else if (statement === Statement.TargetList) expect = Expect.ListItem;
        previousKeyword = keyword;
        continue;
      }
    }

    if (QUERY_OPERATIONS.has(keyword) && !previousWasDot && !NOT_AN_OPERATION_AFTER.has(previousKeyword)) {
      addOperation(text.slice(wordStart, wordEnd), keyword);
      operationAt[depth] = keyword;
      inListAt[depth] = false;
      if (keyword === 'UPDATE') expect = Expect.Name;
      previousKeyword = keyword;
      previousWasDot = false;
      continue;
    }

    const operation = operationAt[depth];
    if (operation !== '') {
      if ((keyword === 'FROM' && previousKeyword !== 'DISTINCT') || keyword === 'JOIN') {
        expect = Expect.ListItem;
        inListAt[depth] = false;
      } else if (keyword === 'INTO') {
        expect = Expect.Name;
        inListAt[depth] = false;
      } else if (keyword === 'USING' && (operation === 'MERGE' || operation === 'DELETE')) {
        expect = Expect.ListItem;
        inListAt[depth] = false;
      } else if (LIST_END.has(keyword)) {
        inListAt[depth] = false;
      }
    }
    previousKeyword = keyword;
    previousWasDot = false;
  }

  /** CREATE [OR REPLACE] [TEMP …] <object type> …: the operation is "CREATE TABLE", as written. */
  function readDefinition(lexer: Lexer, text: string, wordStart: number, wordEnd: number, keyword: string): void {
    let objectText = '';
    let objectKeyword = '';
    while (lexer.peek() === Token.Word) {
      lexer.next();
      const word = keywordAt(text, lexer.start, lexer.end);
      if (DEFINITION_MODIFIERS.has(word)) continue;
      if (word === 'MATERIALIZED') {
        const materialized = text.slice(lexer.start, lexer.end);
        if (lexer.peek() === Token.Word) {
          lexer.next();
          objectText = materialized + ' ' + text.slice(lexer.start, lexer.end);
          objectKeyword = 'VIEW';
        }
      } else if (COLLECTION_OBJECTS.has(word) || OTHER_OBJECTS.has(word)) {
        objectText = text.slice(lexer.start, lexer.end);
        objectKeyword = word;
      }
      break;
    }
    const operation = text.slice(wordStart, wordEnd);
    if (objectKeyword === '') {
      addOperation(operation, keyword);
      ignoreRest = true;
      return;
    }
    addOperation(operation + ' ' + objectText, keyword + ' ' + objectKeyword);
    if (!COLLECTION_OBJECTS.has(objectKeyword)) {
      ignoreRest = true;
      return;
    }
    expect = Expect.Name;
    nameStartsList = keyword === 'DROP';
    // ALTER TABLE t …: what follows the name is column and constraint syntax, not queries.
    ignoreAfterName = keyword === 'ALTER';
  }

  const single = operations === 1;
  return {
    summary: parts.length === 0 ? undefined : parts.join(' '),
    operationName: single ? firstOperation : undefined,
    collectionName: single && targets === 1 && COLLECTION_OPERATIONS.has(firstOperationKeyword) ? firstTarget : undefined,
    storedProcedureName: single && targets === 1 && firstOperationKeyword === 'CALL' ? firstTarget : undefined,
    hasComment: lexer.hasComment,
  };
}
