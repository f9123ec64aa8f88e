import { act, cleanup, render, screen } from "@testing-library/react";
import { afterEach, describe, expect, it } from "vitest";
import { type Job, JobsPanel, JobsProvider, buildState, describeJob, jobLayers, jobPercent, jobSummary, mergeJobs, useJobs } from "./jobs";

const base = (over: Partial<Job>): Job => ({
  id: "j1",
  kind: "pull",
  status: "running",
  host: 1,
  host_name: "engine1",
  params: { image: "localhost:5000/web:1" },
  progress: {},
  result: {},
  error: "",
  created_at: "2026-01-01T00:00:00Z",
  seq: 1,
  ...over,
});

afterEach(cleanup);

describe("job helpers", () => {
  it("describes each kind of job", () => {
    expect(describeJob(base({}))).toBe("pull localhost:5000/web:1 on engine1");
    expect(describeJob(base({ kind: "build", params: { tags: ["a:1", "b:2"], context_kind: "dockerfile" } }))).toBe("build a:1, b:2 on engine1");
    expect(describeJob(base({ kind: "build", params: { tags: [], context_kind: "dockerfile" } }))).toBe("build from a Dockerfile on engine1");
    expect(describeJob(base({ kind: "commit", params: { container: "web", image: "snap:1" } }))).toBe("commit web → snap:1 on engine1");
  });

  it("shows a succeeded job as complete and bounds the percent", () => {
    expect(jobPercent(base({ status: "succeeded", progress: { percent: 40 } }))).toBe(100);
    expect(jobPercent(base({ progress: { percent: 140 } }))).toBe(100);
    expect(jobPercent(base({ progress: {} }))).toBe(0);
  });

  it("finds a build's state and layers also while it pushes", () => {
    const building = base({ kind: "build", progress: { phase: "build", step: 2, steps: 3, instruction: "RUN x", lines: ["Step 2/3 : RUN x"] } });
    expect(buildState(building)?.lines).toEqual(["Step 2/3 : RUN x"]);
    expect(jobSummary(building)).toBe("Step 2/3: RUN x");
    const layers = { abc: { status: "Pushing", current: 1, total: 2, done: false } };
    const pushing = base({ kind: "build", progress: { phase: "push", layers, reference: "r/a:1", build: { lines: ["done"] } } });
    expect(buildState(pushing)?.lines).toEqual(["done"]);
    expect(jobLayers(pushing)).toEqual(layers);
    expect(jobSummary(pushing)).toContain("Pushing r/a:1");
  });

  it("summarises pull layers", () => {
    const job = base({
      progress: {
        current: 5,
        total: 10,
        layers: { a: { status: "Pull complete", current: 4, total: 4, done: true }, b: { status: "Downloading", current: 1, total: 6, done: false } },
      },
    });
    expect(jobSummary(job)).toBe("1 of 2 layers done · 5 B of 10 B");
  });

  it("ignores stale snapshots and keeps the same list when nothing changed", () => {
    const jobs = mergeJobs([], [base({ seq: 3 })]);
    expect(mergeJobs(jobs, [base({ seq: 2, status: "queued" })])).toBe(jobs);
    expect(mergeJobs(jobs, [base({ seq: 4, status: "succeeded" })])[0]?.status).toBe("succeeded");
  });
});

describe("jobs panel", () => {
  it("shows per-layer bars and build output as text", () => {
    class FakeSocket extends EventTarget {
      static OPEN = 1;
      readyState = 0;
      binaryType = "";
      close() {}
      send() {}
    }
    (globalThis as { WebSocket?: unknown }).WebSocket = FakeSocket;
    let push: ((job: Job) => void) | null = null;
    function Feeder() {
      push = useJobs().upsert;
      return null;
    }
    render(
      <JobsProvider>
        <Feeder />
        <JobsPanel />
      </JobsProvider>,
    );
    act(() =>
      push?.(
        base({
          progress: { percent: 50, layers: { "sha256abcdef0123": { status: "Downloading", current: 5, total: 10, done: false } } },
        }),
      ),
    );
    expect(screen.getByRole("progressbar", { name: "Progress of pull localhost:5000/web:1 on engine1" })).toHaveProperty("value", 50);
    expect(screen.getByRole("progressbar", { name: "Layer sha256abcdef" })).toHaveProperty("value", 5);
    act(() =>
      push?.(
        base({ id: "j2", kind: "build", created_at: "2026-01-02T00:00:00Z", params: { tags: ["t:1"] }, progress: { lines: ["<b>not html</b>", "Step 1/1 : FROM x"] } }),
      ),
    );
    const output = screen.getByRole("log", { name: "Output of build t:1 on engine1" });
    expect(output.textContent).toContain("<b>not html</b>");
    expect(output.querySelector("b")).toBeNull();
  });
});
