/** A bounded window of log lines: a ring buffer that keeps the newest `capacity` lines in O(1) per line. */

export type LogStream = "stdout" | "stderr" | "meta";

export interface LogLine {
  /** Monotonic sequence number: stable React keys and "lines since" arithmetic across evictions. */
  seq: number;
  container: string;
  stream: LogStream;
  ts: string | null;
  text: string;
}

export interface IncomingLine {
  container?: unknown;
  stream?: unknown;
  ts?: unknown;
  text?: unknown;
}

export class LineBuffer {
  private ring: (LogLine | undefined)[];
  private start = 0;
  private size = 0;
  private nextSeq = 0;
  /** Lines that left the window since the buffer was created or cleared. */
  evicted = 0;
  /** Bumped on every change, so React can tell that the (mutable) buffer changed. */
  version = 0;

  constructor(private cap: number) {
    if (!Number.isInteger(cap) || cap < 1) throw new RangeError("capacity must be a positive integer");
    this.ring = new Array<LogLine | undefined>(cap);
  }

  get capacity(): number {
    return this.cap;
  }

  get length(): number {
    return this.size;
  }

  /** The line at `index` (0 = oldest kept line). */
  at(index: number): LogLine | undefined {
    if (index < 0 || index >= this.size) return undefined;
    return this.ring[(this.start + index) % this.cap];
  }

  push(line: Omit<LogLine, "seq">): void {
    const entry: LogLine = { ...line, seq: this.nextSeq++ };
    if (this.size < this.cap) {
      this.ring[(this.start + this.size) % this.cap] = entry;
      this.size++;
    } else {
      this.ring[this.start] = entry;
      this.start = (this.start + 1) % this.cap;
      this.evicted++;
    }
    this.version++;
  }

  /** Adds the lines of a server batch, skipping malformed entries. */
  pushBatch(lines: readonly IncomingLine[]): void {
    for (const raw of lines) {
      if (typeof raw.text !== "string") continue;
      this.push({
        container: typeof raw.container === "string" ? raw.container : "",
        stream: raw.stream === "stderr" ? "stderr" : "stdout",
        ts: typeof raw.ts === "string" ? raw.ts : null,
        text: raw.text,
      });
    }
  }

  /** A marker line from the viewer itself (skipped lines, restarts, errors). */
  note(text: string, container = ""): void {
    this.push({ container, stream: "meta", ts: null, text });
  }

  clear(): void {
    this.ring = new Array<LogLine | undefined>(this.cap);
    this.start = 0;
    this.size = 0;
    this.evicted = 0;
    this.version++;
  }

  /** A new capacity; keeps the newest lines that fit. */
  resize(capacity: number): void {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError("capacity must be a positive integer");
    const kept = this.toArray().slice(-capacity);
    this.evicted += this.size - kept.length;
    this.cap = capacity;
    this.ring = new Array<LogLine | undefined>(capacity);
    kept.forEach((line, i) => (this.ring[i] = line));
    this.start = 0;
    this.size = kept.length;
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
}
