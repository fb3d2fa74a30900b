import { defineConfig } from "vite";
import preact from "@preact/preset-vite";

// Tauri loads the built files from disk: no CDN, no runtime fetches. The dev server's port
// is the one desktop-app/src-tauri/tauri.dev.conf.json points the window at.
export default defineConfig({
  plugins: [preact()],
  clearScreen: false,
  server: { port: 1420, strictPort: true },
  build: {
    // WebKitGTK 2.40+ (Debian bookworm) and the Safari it tracks.
    target: "safari16",
    // Inline assets would need `data:` in the CSP; keep them as files.
    assetsInlineLimit: 0,
  },
});
