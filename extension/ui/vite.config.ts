import { defineConfig } from 'vitest/config';
import react from '@vitejs/plugin-react';

// base './': Desktop serves the UI from the extension's files, not from the root.
export default defineConfig({
  plugins: [react()],
  base: './',
  build: { outDir: 'build', chunkSizeWarningLimit: 2000 },
  test: { environment: 'node', include: ['src/**/*.test.ts'] },
});
