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

// dmn-js's "powered by" logo (which the bpmn.io licence keeps in place) and its lightbox are HTML strings with
// style attributes too: they are taken out, and app.css places the logo (.dmn-editor .bjs-powered-by) and the
// lightbox (.bjs-powered-by-lightbox) with the same rules.
const DMN_INLINE_STYLES = [
  ' style="vertical-align:middle"',
  'style="position: absolute; bottom: 15px; right: 15px; z-index: 100;"',
  " style=\"' + LIGHTBOX_STYLES + '\"",
  " style=\"' + BACKDROP_STYLES + '\"",
  " style=\"' + NOTICE_STYLES + '\"",
  " style=\"margin: 15px 20px 15px 10px; align-self: center;' + '\"",
];

const dmnNoInlineStyles = {
  name: "dmn-no-inline-styles",
  setup(b) {
    b.onLoad({ filter: /dmn-js-shared[\\/]lib[\\/]util[\\/]PoweredByUtil\.js$/ }, async (args) => {
      let source = await readFile(args.path, "utf8");
      for (const attribute of DMN_INLINE_STYLES) {
        if (!source.includes(attribute)) {
          throw new Error(`dmn-js changed: ${attribute.trim()} not found; update build.mjs and app.css`);
        }
        source = source.split(attribute).join("");
      }
      if (source.includes("style=")) {
        throw new Error("dmn-js's PoweredByUtil has another inline style attribute; the CSP would block it");
      }
      return { contents: source, loader: "js" };
    });
  },
};

const common = {
  bundle: true,
  minify: true,
  format: "iife",
  target: "es2019",
  legalComments: "none",
  logLevel: "warning",
};

await build({
  ...common,
  entryPoints: [join(here, "dmn_index.js")],
  outfile: join(dirname(outfile), "dmn.js"),
  plugins: [dmnNoInlineStyles],
});

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
