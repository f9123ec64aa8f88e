import { describe, expect, it } from "vitest";
import { containerColours } from "./LogViewer";

describe("containerColours", () => {
  it("gives every merged container its own colour, the same for the same names", () => {
    const names = Array.from({ length: 50 }, (_, i) => `svc-${i}`);
    const colours = containerColours(names);
    expect(colours.size).toBe(50);
    expect(new Set(colours.values()).size).toBe(50);
    expect(containerColours([...names].reverse())).toEqual(colours);
    expect(containerColours(["web", "db", "web"]).size).toBe(2);
  });
});
