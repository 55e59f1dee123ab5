// Builds the page served at /app into src/parallizer/clients/web/static (committed):
// one JavaScript bundle (CodeMirror 6 included, no network at run time), its CSS, the HTML.
import { build } from "esbuild";
import { copyFile, mkdir } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, "..", "src", "parallizer", "clients", "web", "static");

await mkdir(out, { recursive: true });
await build({
  entryPoints: [join(here, "src", "main.js")],
  bundle: true,
  minify: true,
  format: "esm",
  target: ["es2022"],
  legalComments: "linked", // the bundled libraries' licences, in app.js.LEGAL.txt
  outfile: join(out, "app.js"),
  logLevel: "info",
});
await build({
  entryPoints: [join(here, "src", "app.css")],
  bundle: true,
  minify: true,
  outfile: join(out, "app.css"),
  logLevel: "info",
});
await copyFile(join(here, "src", "index.html"), join(out, "index.html"));
