import { render } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { AnsiText, ansiChunks, searchPattern } from "./AnsiText";

describe("AnsiText", () => {
  it("renders markup in log text as text, never as HTML", () => {
    const text = "\u001b[31m<script>window.pwned = 1</script>\u001b[0m <img src=x onerror=alert(1)> & done";
    const { container } = render(<AnsiText text={text} />);
    expect(container.querySelector("script")).toBeNull();
    expect(container.querySelector("img")).toBeNull();
    expect(container.textContent).toBe("<script>window.pwned = 1</script> <img src=x onerror=alert(1)> & done");
    expect((window as unknown as { pwned?: number }).pwned).toBeUndefined();
  });

  it("turns SGR colours into styles and drops other escapes", () => {
    const chunks = ansiChunks("plain \u001b[1;32mgreen bold\u001b[0m end");
    expect(chunks.map((c) => c.text).join("")).toBe("plain green bold end");
    const green = chunks.find((c) => c.text === "green bold");
    expect(green?.style.color).toMatch(/^rgb\(/);
    expect(green?.style.fontWeight).toBe("bold");
    const { container } = render(<AnsiText text={"\u001b[2K\u001b[34mblue\u001b[0m"} />);
    expect(container.textContent).toBe("blue");
  });

  it("highlights search matches inside coloured text", () => {
    const { container } = render(
      <AnsiText text={"\u001b[33mwarning: disk <full>\u001b[0m, Disk again"} highlight={searchPattern("disk", false)} />,
    );
    const marks = [...container.querySelectorAll("mark")].map((m) => m.textContent);
    expect(marks).toEqual(["disk", "Disk"]);
    expect(container.textContent).toBe("warning: disk <full>, Disk again");
  });

  it("treats search text literally unless asked for a regex, and rejects bad regexes", () => {
    expect(searchPattern("a.b", false)?.test("axb")).toBe(false);
    expect(searchPattern("a.b", true)?.test("axb")).toBe(true);
    expect(searchPattern("(", true)).toBeNull();
    expect(searchPattern("", false)).toBeNull();
  });
});
