import { describe, expect, it } from "vitest";
import { LineBuffer, parseTimestamp } from "./buffer";

const line = (text: string) => ({ container: "c", stream: "stdout" as const, ts: null, text });

describe("LineBuffer", () => {
  it("keeps every line while under capacity, oldest first", () => {
    const buffer = new LineBuffer(5);
    ["a", "b", "c"].forEach((t) => buffer.push(line(t)));
    expect(buffer.length).toBe(3);
    expect(buffer.toArray().map((l) => l.text)).toEqual(["a", "b", "c"]);
    expect(buffer.evicted).toBe(0);
  });

  it("keeps a bounded window of the newest lines", () => {
    const buffer = new LineBuffer(1000);
    for (let i = 0; i < 250_000; i++) buffer.push(line(`line ${i}`));
    expect(buffer.length).toBe(1000);
    expect(buffer.at(0)?.text).toBe("line 249000");
    expect(buffer.at(999)?.text).toBe("line 249999");
    expect(buffer.at(1000)).toBeUndefined();
    expect(buffer.at(-1)).toBeUndefined();
    expect(buffer.evicted).toBe(249_000);
    // Sequence numbers keep counting across evictions: stable keys for the virtual list.
    expect(buffer.at(0)?.seq).toBe(249_000);
    expect(buffer.firstSeq).toBe(249_000);
  });

  it("grows its columns past the first allocation and wraps around at capacity", () => {
    const buffer = new LineBuffer(3000);
    for (let i = 0; i < 2500; i++) buffer.push({ container: i % 2 ? "b" : "a", stream: i % 3 ? "stdout" : "stderr", ts: null, text: `${i}` });
    expect(buffer.length).toBe(2500);
    expect(buffer.at(2499)).toMatchObject({ seq: 2499, container: "b", stream: "stderr", text: "2499" });
    for (let i = 2500; i < 7000; i++) buffer.push(line(`${i}`));
    expect(buffer.length).toBe(3000);
    expect(buffer.toArray().map((l) => Number(l.text))).toEqual(Array.from({ length: 3000 }, (_, i) => 4000 + i));
  });

  it("accepts server batches, skips malformed entries and keeps times to the millisecond", () => {
    const buffer = new LineBuffer(10);
    buffer.pushBatch([
      { container: "web", stream: "stderr", ts: "2026-01-01T00:00:00Z", text: "boom" },
      { container: "web", stream: "stdout", text: 42 },
      { text: "no container" },
      { container: "db", stream: "stdout", ts: "2026-03-04T05:06:07.890123456Z", text: "ok" },
    ]);
    expect(buffer.toArray()).toMatchObject([
      { container: "web", stream: "stderr", ts: "2026-01-01T00:00:00.000Z", text: "boom" },
      { container: "", stream: "stdout", ts: null, text: "no container" },
      { container: "db", stream: "stdout", ts: "2026-03-04T05:06:07.890Z", text: "ok" },
    ]);
  });

  it("resizes to keep the newest lines and bumps its version on change", () => {
    const buffer = new LineBuffer(4);
    ["a", "b", "c", "d", "e"].forEach((t) => buffer.push(line(t)));
    const before = buffer.version;
    buffer.resize(2);
    expect(buffer.toArray().map((l) => l.text)).toEqual(["d", "e"]);
    expect(buffer.version).toBeGreaterThan(before);
    expect(buffer.evicted).toBe(3);
    buffer.push(line("f"));
    expect(buffer.toArray().map((l) => l.text)).toEqual(["e", "f"]);
    buffer.resize(5);
    ["g", "h", "i", "j"].forEach((t) => buffer.push(line(t)));
    expect(buffer.toArray().map((l) => l.text)).toEqual(["f", "g", "h", "i", "j"]);
    expect(buffer.at(0)?.seq).toBe(5);
    buffer.clear();
    expect(buffer.length).toBe(0);
    buffer.push(line("k"));
    expect(buffer.toArray().map((l) => l.text)).toEqual(["k"]);
    expect(() => new LineBuffer(0)).toThrow(RangeError);
  });
});

describe("parseTimestamp", () => {
  it("reads the engine's time stamps like Date.parse, to the millisecond", () => {
    for (const ts of [
      "2026-01-02T03:04:05.123456789Z",
      "2026-01-02T03:04:59.9Z",
      "2026-01-02T03:05:00Z",
      "2025-12-31T23:59:59.999999Z",
      "2026-01-02T03:04:05.123+02:00",
    ]) {
      expect(parseTimestamp(ts)).toBe(Date.parse(ts.replace(/(\.\d{3})\d+/, "$1")));
    }
    expect(parseTimestamp("2026-01-02T03:04:05.12x4Z")).toBeNaN();
    expect(parseTimestamp("not a time")).toBeNaN();
  });
});
