import { describe, expect, it } from "vitest";
import { buildRows } from "../pages/ContainersPage";
import type { Schemas } from "../api/client";
import { formatBytes, pairsText, parsePairs } from "./format";
import { type Job, mergeJobs } from "./jobs";

const container = (name: string, project = "", host = 1): Schemas["ContainerSummary"] => ({
  host,
  host_name: `h${host}`,
  id: `${name}-id`,
  name,
  image: "busybox",
  command: "sh",
  state: "running",
  status: "Up",
  created: 0,
  ports: [],
  labels: {},
  compose_project: project,
  compose_service: "",
  owner: "",
});

describe("containers table rows", () => {
  it("lists containers flat, or grouped by compose project with ungrouped ones last", () => {
    const list = [container("a", "shop"), container("b"), container("c", "blog"), container("d", "shop")];
    expect(buildRows(list, false).map((r) => r.key)).toEqual(["1:a-id", "1:b-id", "1:c-id", "1:d-id"]);
    const grouped = buildRows(list, true);
    expect(grouped.map((r) => (r.kind === "group" ? `[${r.project || "-"} ${r.count}]` : r.c.name))).toEqual([
      "[blog 1]", "c", "[shop 2]", "a", "d", "[- 1]", "b",
    ]);
  });

  it("keeps projects of the same name on different hosts apart", () => {
    const grouped = buildRows([container("a", "app", 1), container("b", "app", 2)], true);
    expect(grouped.filter((r) => r.kind === "group")).toHaveLength(2);
  });
});

describe("jobs", () => {
  const job = (id: string, seq: number, status = "running", created_at = "2026-01-01T00:00:00Z"): Job => ({
    id, seq, status, created_at, kind: "pull", host: 1, host_name: "h", params: {}, progress: {}, result: {}, error: "",
  });

  it("keeps the newest state of each job and the newest job first", () => {
    const merged = mergeJobs([job("a", 5, "running")], [job("a", 4, "queued"), job("b", 1, "queued", "2026-02-01T00:00:00Z"), job("a", 6, "succeeded")]);
    expect(merged.map((j) => `${j.id}:${j.status}`)).toEqual(["b:queued", "a:succeeded"]);
  });
});

describe("format", () => {
  it("parses KEY=value lines and says which line is wrong", () => {
    expect(parsePairs("A=1\n\n B = two=2 \n")).toEqual({ A: "1", B: " two=2 " });
    expect(() => parsePairs("A=1\nnope", "Label line")).toThrow("Label line 2: write KEY=value.");
    expect(pairsText({ A: "1", B: "" })).toBe("A=1\nB=");
  });

  it("formats bytes", () => {
    expect(formatBytes(512)).toBe("512 B");
    expect(formatBytes(1536)).toBe("1.5 KiB");
    expect(formatBytes(8 * 1024 ** 3)).toBe("8.0 GiB");
    expect(formatBytes(null)).toBe("–");
  });
});
