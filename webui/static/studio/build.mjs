// Bundles the studio (index.js) into one script for the definition editor: `make setup` runs
// `node webui/static/studio/build.mjs OUTFILE`.
//
// The app's Content-Security-Policy allows no inline style attributes (webui/security.py), and
// bpmn-js-properties-panel builds its two containers from HTML strings carrying style="...". Those
// attributes are taken out here and the same rules are in webui/static/app.css (.bio-properties-panel-container,
// .bio-properties-panel-header-container), so the panel looks the same and the policy stays as it is.
import { build } from "esbuild";
import { readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const outfile = process.argv[2];
if (!outfile) {
  console.error("usage: node build.mjs OUTFILE");
  process.exit(2);
}

const INLINE_STYLES = [' style="height: 100%"', ' style="flex: none; height: auto"'];

const noInlineStyles = {
  name: "no-inline-styles",
  setup(b) {
    b.onLoad({ filter: /bpmn-js-properties-panel[\\/]dist[\\/]index\.esm\.js$/ }, async (args) => {
      let source = await readFile(args.path, "utf8");
      for (const attribute of INLINE_STYLES) {
        if (!source.includes(attribute)) {
          throw new Error(`bpmn-js-properties-panel changed: ${attribute.trim()} not found; update build.mjs and app.css`);
        }
        source = source.split(attribute).join("");
      }
      if (/domify\('[^']*style="/.test(source)) {
        throw new Error("bpmn-js-properties-panel has another inline style attribute; the CSP would block it");
      }
      return { contents: source, loader: "js" };
    });
  },
};

await build({
  entryPoints: [join(here, "index.js")],
  bundle: true,
  minify: true,
  format: "iife",
  target: "es2019",
  legalComments: "none",
  logLevel: "warning",
  outfile,
  plugins: [noInlineStyles],
});
