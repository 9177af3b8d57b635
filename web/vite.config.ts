import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

// The build goes into the gateway package, which serves it (with an index.html fallback for routes).
export default defineConfig({
  plugins: [react()],
  build: {
    outDir: "../services/gateway/src/gateway/static",
    emptyOutDir: true,
    chunkSizeWarningLimit: 2000,
  },
  server: { proxy: { "/api": "http://127.0.0.1:8000", "/openapi.json": "http://127.0.0.1:8000" } },
});
