/**
 * Where a JSON document stops being JSON, and why, in plain words with a line and a column (docs/configuration.md).
 * JSON.parse's own message differs between Node.js versions and gives only an offset; this scanner is called only
 * after JSON.parse has refused the text, to describe the first problem the way a person would fix it.
 */

export interface JsonSyntaxProblem {
  line: number;
  column: number;
  message: string;
}

class Stop extends Error {
  constructor(
    readonly offset: number,
    message: string,
  ) {
    super(message);
  }
}

export function jsonSyntaxProblem(text: string): JsonSyntaxProblem | undefined {
  try {
    new Scanner(text).document();
    return undefined;
  } catch (error) {
    if (!(error instanceof Stop)) throw error;
    return { ...lineAndColumn(text, error.offset), message: error.message };
  }
}

export function lineAndColumn(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, offset);
  const line = before.split('\n').length;
  return { line, column: offset - (before.lastIndexOf('\n') + 1) + 1 };
}

function shown(char: string | undefined): string {
  if (char === undefined) return 'the end of the document';
  if (char === '\n' || char === '\r') return 'the end of the line';
  return JSON.stringify(char);
}

class Scanner {
  private at = 0;

  constructor(private readonly text: string) {}

  document(): void {
    if (this.text.charCodeAt(0) === 0xfeff) this.at = 1;
    this.space();
    if (this.at >= this.text.length)
      throw new Stop(this.at, 'the document is empty; it should be a JSON object { … }');
    this.value();
    this.space();
    if (this.at < this.text.length) {
      throw new Stop(this.at, `unexpected ${shown(this.text[this.at])} after the end of the document`);
    }
  }

  private space(): void {
    for (;;) {
      const c = this.text[this.at];
      if (c === ' ' || c === '\t' || c === '\n' || c === '\r') this.at++;
      else if (c === '/' && (this.text[this.at + 1] === '/' || this.text[this.at + 1] === '*'))
        throw new Stop(this.at, 'comments are not allowed in JSON: remove them');
      else return;
    }
  }

  private value(): void {
    const c = this.text[this.at];
    if (c === '{') return this.object();
    if (c === '[') return this.array();
    if (c === '"') return this.string();
    if (c === "'") throw new Stop(this.at, 'strings take double quotes in JSON ("…"), not single quotes');
    if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) return this.number();
    for (const word of ['true', 'false', 'null']) {
      if (this.text.startsWith(word, this.at)) {
        this.at += word.length;
        return;
      }
    }
    if (c === undefined) throw new Stop(this.at, 'the document ends where a value was expected');
    if (c === '}' || c === ']') throw new Stop(this.at, `a value is missing before ${shown(c)}`);
    throw new Stop(
      this.at,
      `expected a value ("text" in double quotes, a number, true, false, null, { … } or [ … ]), found ${shown(c)}`,
    );
  }

  private object(): void {
    const open = this.at;
    this.at++;
    this.space();
    if (this.text[this.at] === '}') {
      this.at++;
      return;
    }
    for (;;) {
      this.space();
      const c = this.text[this.at];
      if (c === '}')
        throw new Stop(this.at, 'a comma before } is not allowed in JSON: remove the last comma');
      if (c === undefined)
        throw new Stop(this.at, `the { at ${this.where(open)} is never closed: a } is missing`);
      if (c !== '"') {
        throw new Stop(
          this.at,
          c === "'"
            ? 'keys take double quotes in JSON ("key"), not single quotes'
            : `expected a key in double quotes ("key"), found ${shown(c)}`,
        );
      }
      this.string();
      this.space();
      if (this.text[this.at] !== ':') {
        throw new Stop(this.at, `expected ":" after the key, found ${shown(this.text[this.at])}`);
      }
      this.at++;
      this.space();
      this.value();
      this.space();
      const next = this.text[this.at];
      if (next === ',') {
        this.at++;
        continue;
      }
      if (next === '}') {
        this.at++;
        return;
      }
      if (next === undefined)
        throw new Stop(this.at, `the { at ${this.where(open)} is never closed: a } is missing`);
      throw new Stop(
        this.at,
        next === '"'
          ? 'a comma is missing between two keys'
          : `expected "," or "}" after a value, found ${shown(next)}`,
      );
    }
  }

  private array(): void {
    const open = this.at;
    this.at++;
    this.space();
    if (this.text[this.at] === ']') {
      this.at++;
      return;
    }
    for (;;) {
      this.space();
      if (this.text[this.at] === ']')
        throw new Stop(this.at, 'a comma before ] is not allowed in JSON: remove the last comma');
      if (this.text[this.at] === undefined)
        throw new Stop(this.at, `the [ at ${this.where(open)} is never closed: a ] is missing`);
      this.value();
      this.space();
      const next = this.text[this.at];
      if (next === ',') {
        this.at++;
        continue;
      }
      if (next === ']') {
        this.at++;
        return;
      }
      if (next === undefined)
        throw new Stop(this.at, `the [ at ${this.where(open)} is never closed: a ] is missing`);
      throw new Stop(this.at, `expected "," or "]" after a list item, found ${shown(next)}`);
    }
  }

  private string(): void {
    const open = this.at;
    this.at++;
    for (;;) {
      const c = this.text[this.at];
      if (c === undefined || c === '\n')
        throw new Stop(open, 'this string is never closed: a " is missing at its end');
      if (c === '"') {
        this.at++;
        return;
      }
      if (c === '\\') {
        const e = this.text[this.at + 1];
        if (e === 'u' && /^[0-9a-fA-F]{4}$/.test(this.text.slice(this.at + 2, this.at + 6))) this.at += 6;
        else if (e !== undefined && '"\\/bfnrt'.includes(e)) this.at += 2;
        else throw new Stop(this.at, `"\\${e ?? ''}" is not an escape JSON knows: write a backslash as \\\\`);
        continue;
      }
      if (c < ' ')
        throw new Stop(this.at, 'a control character (a tab?) inside a string: write it as \\t or \\n');
      this.at++;
    }
  }

  private number(): void {
    const match = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(this.text.slice(this.at));
    if (!match) throw new Stop(this.at, `not a number JSON knows: ${shown(this.text[this.at])}`);
    this.at += match[0].length;
  }

  private where(offset: number): string {
    const { line, column } = lineAndColumn(this.text, offset);
    return `line ${line}, column ${column}`;
  }
}
