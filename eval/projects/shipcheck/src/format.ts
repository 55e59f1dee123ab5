// Plain-text output; colours are left to the terminal.
import type { Change } from "./diff.js";
import type { Manifest } from "./schema.js";

export function formatChanges(changes: Change[]): string {
  if (!changes.length) return "no changes";
  return changes
    .map((c) => {
      const mark = c.kind === "added" ? "+" : c.kind === "removed" ? "-" : "~";
      const detail = c.kind === "changed" ? ` (${c.fields.join(", ")})` : "";
      return `${mark} ${c.service}${detail}`;
    })
    .join("\n");
}

export function formatServices(manifest: Manifest): string {
  const width = Math.max(...manifest.services.map((s) => s.name.length));
  return manifest.services
    .map((s) => `${s.name.padEnd(width)}  ${String(s.replicas).padStart(3)}  ${s.image}`)
    .join("\n");
}
