import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

// Built with `vite build client`; the gateway serves client/dist at `/`.
// In `vite dev`, Socket.IO is proxied to the gateway (GATEWAY_URL, default http://localhost:3000).
const root = fileURLToPath(new URL('.', import.meta.url));
const gateway = process.env.GATEWAY_URL ?? 'http://localhost:3000';

export default defineConfig({
  root,
  base: '/',
  build: {
    outDir: fileURLToPath(new URL('./dist', import.meta.url)),
    emptyOutDir: true,
    // Source maps would publish the client's source; the gateway also refuses *.map.
    sourcemap: false,
    target: 'es2022',
  },
  server: {
    proxy: { '/socket.io': { target: gateway, ws: true, changeOrigin: true } },
  },
});
