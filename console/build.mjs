// Builds the console into dist/: one minified script (Preact + htm, bundled by esbuild),
// the stylesheet and the page. `node build.mjs` (what `make console` and setup run).
import * as esbuild from "esbuild";
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { gzipSync } from "node:zlib";

const here = new URL(".", import.meta.url).pathname;
const dist = `${here}dist`;
mkdirSync(dist, { recursive: true });
await esbuild.build({
  entryPoints: [`${here}src/main.js`],
  bundle: true,
  minify: true,
  format: "esm",
  target: ["chrome120", "firefox120", "safari17"],
  outfile: `${dist}/app.js`,
  legalComments: "none",
});
copyFileSync(`${here}src/app.css`, `${dist}/app.css`);
copyFileSync(`${here}src/index.html`, `${dist}/index.html`);
let total = 0;
for (const f of ["index.html", "app.js", "app.css"]) {
  total += gzipSync(readFileSync(`${dist}/${f}`)).length;
}
writeFileSync(`${dist}/size.json`, JSON.stringify({ first_load_gzip_bytes: total }) + "\n");
console.log(`console: built into ${dist} (first load ${(total / 1024).toFixed(1)} KB gzip)`);
