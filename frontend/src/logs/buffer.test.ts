import { describe, expect, it } from "vitest";
import { LineBuffer } from "./buffer";

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
    expect(buffer.evicted).toBe(249_000);
    // Sequence numbers keep counting across evictions: stable keys for the virtual list.
    expect(buffer.at(0)?.seq).toBe(249_000);
  });

  it("accepts server batches and skips malformed entries", () => {
    const buffer = new LineBuffer(10);
    buffer.pushBatch([
      { container: "web", stream: "stderr", ts: "2026-01-01T00:00:00Z", text: "boom" },
      { container: "web", stream: "stdout", text: 42 },
      { text: "no container" },
    ]);
    expect(buffer.toArray()).toMatchObject([
      { container: "web", stream: "stderr", ts: "2026-01-01T00:00:00Z", text: "boom" },
      { container: "", stream: "stdout", ts: null, text: "no container" },
    ]);
  });

  it("resizes to keep the newest lines and bumps its version on change", () => {
    const buffer = new LineBuffer(4);
    ["a", "b", "c", "d", "e"].forEach((t) => buffer.push(line(t)));
    const before = buffer.version;
    buffer.resize(2);
    expect(buffer.toArray().map((l) => l.text)).toEqual(["d", "e"]);
    expect(buffer.version).toBeGreaterThan(before);
    buffer.push(line("f"));
    expect(buffer.toArray().map((l) => l.text)).toEqual(["e", "f"]);
    buffer.clear();
    expect(buffer.length).toBe(0);
    expect(() => new LineBuffer(0)).toThrow(RangeError);
  });
});
