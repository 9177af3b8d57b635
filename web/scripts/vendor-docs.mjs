// Copies Swagger UI and ReDoc from node_modules into public/docs-assets, so the gateway serves the API
// docs itself (no CDN: /docs works offline). The copies are build inputs, not sources (.gitignore).
import { copyFileSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const out = join(root, "public", "docs-assets");
mkdirSync(out, { recursive: true });
const files = {
  "swagger-ui-dist/swagger-ui-bundle.js": "swagger-ui-bundle.js",
  "swagger-ui-dist/swagger-ui.css": "swagger-ui.css",
  "redoc/bundles/redoc.standalone.js": "redoc.standalone.js",
};
for (const [from, to] of Object.entries(files)) {
  copyFileSync(join(root, "node_modules", from), join(out, to));
}
console.log(`vendored ${Object.keys(files).length} docs files into ${out}`);
