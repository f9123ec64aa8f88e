/** Log text with ANSI colours, rendered as React text nodes: log text is never interpreted as HTML. */
import Anser from "anser";
import { type CSSProperties, type ReactNode, memo } from "react";

const RGB = /^\d{1,3}, ?\d{1,3}, ?\d{1,3}$/;

export interface Chunk {
  text: string;
  style: CSSProperties;
}

/** Splits `text` into styled chunks (SGR colours and decorations; other escapes are dropped). */
export function ansiChunks(text: string): Chunk[] {
  if (!text.includes("\u001b")) return [{ text, style: {} }];
  return Anser.ansiToJson(text, { json: true, remove_empty: true }).map((entry) => {
    const style: CSSProperties = {};
    let fg = entry.fg && RGB.test(entry.fg) ? `rgb(${entry.fg})` : undefined;
    let bg = entry.bg && RGB.test(entry.bg) ? `rgb(${entry.bg})` : undefined;
    const decorations = new Set(entry.decorations ?? []);
    if (decorations.has("reverse")) [fg, bg] = [bg ?? "var(--log-bg)", fg ?? "var(--log-fg)"];
    if (fg) style.color = fg;
    if (bg) style.backgroundColor = bg;
    if (decorations.has("bold")) style.fontWeight = "bold";
    if (decorations.has("dim")) style.opacity = 0.7;
    if (decorations.has("italic")) style.fontStyle = "italic";
    const lines = [decorations.has("underline") && "underline", decorations.has("strikethrough") && "line-through"];
    const textDecoration = lines.filter(Boolean).join(" ");
    if (textDecoration) style.textDecoration = textDecoration;
    if (decorations.has("hidden")) style.visibility = "hidden";
    return { text: entry.content, style };
  });
}

function highlighted(text: string, pattern: RegExp | null): ReactNode {
  if (!pattern || !text) return text;
  const parts: ReactNode[] = [];
  let last = 0;
  const global = new RegExp(pattern.source, pattern.flags.includes("g") ? pattern.flags : `${pattern.flags}g`);
  for (const match of text.matchAll(global)) {
    const index = match.index ?? 0;
    if (match[0].length === 0) break;
    if (index > last) parts.push(text.slice(last, index));
    parts.push(<mark key={index}>{match[0]}</mark>);
    last = index + match[0].length;
  }
  if (parts.length === 0) return text;
  if (last < text.length) parts.push(text.slice(last));
  return parts;
}

export const AnsiText = memo(function AnsiText({ text, highlight = null }: { text: string; highlight?: RegExp | null }) {
  const chunks = ansiChunks(text);
  return (
    <>
      {chunks.map((chunk, i) =>
        Object.keys(chunk.style).length ? (
          <span key={i} style={chunk.style}>
            {highlighted(chunk.text, highlight)}
          </span>
        ) : (
          <span key={i}>{highlighted(chunk.text, highlight)}</span>
        ),
      )}
    </>
  );
});

/** A case-insensitive pattern for highlighting a search (plain text unless `regex`); null when invalid. */
export function searchPattern(text: string, regex: boolean, caseSensitive = false): RegExp | null {
  if (!text) return null;
  try {
    return new RegExp(regex ? text : text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"), caseSensitive ? "g" : "gi");
  } catch {
    return null;
  }
}
