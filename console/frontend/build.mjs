// Bundles src/ into ../static/dist (served by Flask at /console/assets/). `npm run build`;
// `make console-assets` runs it after `npm ci` when the bundle is missing or older than its sources.
import * as esbuild from "esbuild";
import { fileURLToPath } from "node:url";
import path from "node:path";

const here = path.dirname(fileURLToPath(import.meta.url));
await esbuild.build({
  absWorkingDir: here,
  entryPoints: ["src/console.css", "src/queue.js", "src/case.js", "src/map.js", "src/citizen.js", "src/track.js",
    "src/dashboard.js", "src/enforcement.js", "src/admin.js"],
  outdir: "../static/dist",
  bundle: true,
  format: "esm",
  target: ["es2020"],
  minify: true,
  sourcemap: true,
  loader: { ".png": "file", ".svg": "file" },
  assetNames: "img/[name]-[hash]",
  logLevel: "warning",
});
