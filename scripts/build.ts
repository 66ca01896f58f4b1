import { build } from './lib/build';

/** `npm run build`: compiles every process and the Explorer into dist/ (scripts/lib/build.ts says how and why). */
build().then(
  (result) => console.log(`[build] ${result.outputs.length} files in dist/ (${(result.ms / 1000).toFixed(1)} s)`),
  (error: unknown) => {
    console.error(`[build] ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  },
);
