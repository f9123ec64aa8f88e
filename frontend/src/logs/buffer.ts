/** A bounded window of log lines: a ring buffer that keeps the newest `capacity` lines in O(1) per line.
 *
 * The window is stored by column, not as one object per line: the text of each line (the only part whose
 * size the viewer does not control), its time as a number (milliseconds since the epoch, not the engine's
 * 30-character RFC 3339 string), and small integers for the stream and the container (an index into the
 * names seen). A kept line costs its text plus ~15 bytes, so a window of 100,000 short lines is a few MB, and
 * evicted lines leave nothing behind. `at(index)` builds a `LogLine` for the few rows on screen. */

export type LogStream = "stdout" | "stderr" | "meta";

export interface LogLine {
  /** Monotonic sequence number: stable React keys and "lines since" arithmetic across evictions. */
  seq: number;
  container: string;
  stream: LogStream;
  /** The engine's time stamp in RFC 3339 with milliseconds (what the viewer shows), or null. */
  ts: string | null;
  text: string;
}

export interface IncomingLine {
  container?: unknown;
  stream?: unknown;
  ts?: unknown;
  text?: unknown;
}

const STREAMS: readonly LogStream[] = ["stdout", "stderr", "meta"];
const STREAM_CODE: Record<LogStream, number> = { stdout: 0, stderr: 1, meta: 2 };
const MAX_NAMES = 0xffff;
/** Columns start small and double up to the capacity: a short log does not pay for a 100k window. */
const FIRST_ALLOCATION = 1024;

const DIGIT0 = 48;
const digit = (s: string, i: number): number => s.charCodeAt(i) - DIGIT0;

/** Milliseconds since the epoch of an RFC 3339 time stamp, or NaN. The engine's own form,
 * `2026-01-02T03:04:05.123456789Z`, is read by hand (with the minute's start cached, as consecutive lines
 * share it): `Date.parse` costs about a microsecond a line, too much at 100,000 lines a second. */
export function parseTimestamp(ts: string): number {
  const n = ts.length;
  if (n >= 20 && ts.charCodeAt(n - 1) === 90 /* Z */ && ts.charCodeAt(10) === 84 /* T */ && ts.charCodeAt(16) === 58 /* : */) {
    let minute = cachedMinute;
    for (let i = 0; i < 16; i++) {
      if (ts.charCodeAt(i) !== cachedPrefix.charCodeAt(i)) {
        minute = Date.parse(`${ts.slice(0, 16)}:00Z`);
        cachedPrefix = ts.slice(0, 16);
        cachedMinute = minute;
        break;
      }
    }
    const tens = digit(ts, 17);
    const ones = digit(ts, 18);
    let ms = 0;
    let valid = tens >= 0 && tens <= 5 && ones >= 0 && ones <= 9;
    if (ts.charCodeAt(19) === 46 /* . */) {
      for (let i = 20, scale = 100; i < n - 1; i++, scale /= 10) {
        const d = digit(ts, i);
        valid &&= d >= 0 && d <= 9;
        if (scale >= 1) ms += d * scale;
      }
    } else if (n !== 20) {
      valid = false;
    }
    return valid ? minute + (tens * 10 + ones) * 1000 + ms : Date.parse(ts);
  }
  return Date.parse(ts);
}
let cachedPrefix = "";
let cachedMinute = Number.NaN;

export class LineBuffer {
  private texts: string[] = [];
  private times = new Float64Array(0);
  private streams = new Uint8Array(0);
  private who = new Uint16Array(0);
  private names: string[] = [""];
  private nameIndex = new Map<string, number>([["", 0]]);
  /** Slots allocated in the columns (grows by doubling up to `cap`). */
  private slots = 0;
  private start = 0;
  private size = 0;
  private nextSeq = 0;
  /** Lines that left the window since the buffer was created or cleared. */
  evicted = 0;
  /** Bumped on every change, so React can tell that the (mutable) buffer changed. */
  version = 0;

  constructor(private cap: number) {
    if (!Number.isInteger(cap) || cap < 1) throw new RangeError("capacity must be a positive integer");
  }

  get capacity(): number {
    return this.cap;
  }

  get length(): number {
    return this.size;
  }

  /** The sequence number of the oldest kept line (the next one's when empty). */
  get firstSeq(): number {
    return this.nextSeq - this.size;
  }

  /** The line at `index` (0 = oldest kept line). */
  at(index: number): LogLine | undefined {
    if (!(index >= 0 && index < this.size)) return undefined;
    const slot = (this.start + index) % this.slots;
    const time = this.times[slot] ?? Number.NaN;
    return {
      seq: this.nextSeq - this.size + index,
      container: this.names[this.who[slot] ?? 0] ?? "",
      stream: STREAMS[this.streams[slot] ?? 0] ?? "stdout",
      ts: Number.isNaN(time) ? null : new Date(time).toISOString(),
      text: this.texts[slot] ?? "",
    };
  }

  push(line: Omit<LogLine, "seq">): void {
    this.append(line.text, line.stream, line.container, line.ts === null ? Number.NaN : parseTimestamp(line.ts));
    this.version++;
  }

  /** Adds the lines of a server batch, skipping malformed entries. */
  pushBatch(lines: readonly IncomingLine[]): void {
    for (const raw of lines) {
      if (typeof raw.text !== "string") continue;
      this.append(
        raw.text,
        raw.stream === "stderr" ? "stderr" : "stdout",
        typeof raw.container === "string" ? raw.container : "",
        typeof raw.ts === "string" ? parseTimestamp(raw.ts) : Number.NaN,
      );
    }
    this.version++;
  }

  /** A marker line from the viewer itself (skipped lines, restarts, errors). */
  note(text: string, container = ""): void {
    this.push({ container, stream: "meta", ts: null, text });
  }

  clear(): void {
    this.allocate(0);
    this.start = 0;
    this.size = 0;
    this.evicted = 0;
    this.names = [""];
    this.nameIndex = new Map([["", 0]]);
    this.version++;
  }

  /** A new capacity; keeps the newest lines that fit. */
  resize(capacity: number): void {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError("capacity must be a positive integer");
    const drop = Math.max(0, this.size - capacity);
    this.start = (this.start + drop) % Math.max(1, this.slots);
    this.size -= drop;
    this.evicted += drop;
    this.cap = capacity;
    this.allocate(Math.min(capacity, Math.max(this.size, FIRST_ALLOCATION)));
    this.version++;
  }

  toArray(): LogLine[] {
    const out: LogLine[] = [];
    for (let i = 0; i < this.size; i++) {
      const line = this.at(i);
      if (line) out.push(line);
    }
    return out;
  }

  private append(text: string, stream: LogStream, container: string, time: number): void {
    if (this.size === this.slots && this.slots < this.cap) this.allocate(Math.min(this.cap, Math.max(FIRST_ALLOCATION, this.slots * 2)));
    let slot: number;
    if (this.size < this.cap) {
      slot = (this.start + this.size) % this.slots;
      this.size++;
    } else {
      slot = this.start;
      this.start = (this.start + 1) % this.slots;
      this.evicted++;
    }
    this.texts[slot] = text;
    this.times[slot] = time;
    this.streams[slot] = STREAM_CODE[stream];
    this.who[slot] = this.nameCode(container);
    this.nextSeq++;
  }

  private nameCode(name: string): number {
    let code = this.nameIndex.get(name);
    if (code === undefined) {
      if (this.names.length >= MAX_NAMES) return 0;
      code = this.names.length;
      this.names.push(name);
      this.nameIndex.set(name, code);
    }
    return code;
  }

  /** Moves the kept lines, oldest first, into columns of `slots` (>= size) slots. */
  private allocate(slots: number): void {
    const texts: string[] = new Array<string>(slots);
    const times = new Float64Array(slots);
    const streams = new Uint8Array(slots);
    const who = new Uint16Array(slots);
    for (let i = 0; i < this.size && i < slots; i++) {
      const from = (this.start + i) % this.slots;
      texts[i] = this.texts[from] ?? "";
      times[i] = this.times[from] ?? Number.NaN;
      streams[i] = this.streams[from] ?? 0;
      who[i] = this.who[from] ?? 0;
    }
    this.texts = texts;
    this.times = times;
    this.streams = streams;
    this.who = who;
    this.slots = slots;
    this.start = 0;
  }
}
