// Copies the front-end packages installed by `npm ci` into ruche/web/static/vendor/, so the
// app serves them itself (no CDN at run time). Run with `npm run build`.
import { copyFileSync, mkdirSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
const out = join(root, "ruche", "web", "static", "vendor");
const files = {
  "htmx.min.js": "node_modules/htmx.org/dist/htmx.min.js",
  "Sortable.min.js": "node_modules/sortablejs/Sortable.min.js",
  "chart.umd.min.js": "node_modules/chart.js/dist/chart.umd.min.js",
  "pico.min.css": "node_modules/@picocss/pico/css/pico.min.css",
};

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
for (const [name, source] of Object.entries(files)) {
  copyFileSync(join(root, source), join(out, name));
  console.log(`vendor/${name} <- ${source}`);
}
