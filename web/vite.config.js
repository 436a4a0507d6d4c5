// Two pages, one build: the web app (index.html, Preact) and GraphiQL (graphiql.html, React, which
// GraphiQL needs). Every asset gets a content-hashed name under /assets/; server.py serves them
// with a year's immutable cache and the two pages with no-cache. Nothing is loaded from a CDN.
import { resolve } from "node:path";
import { defineConfig } from "vite";
import preact from "@preact/preset-vite";

// GraphiQL's packages carry React compiler directives ("use no memo") that a bundle cannot keep:
// harmless, and one warning each would bury the build's real messages. The Preact preset sets its
// own onwarn, so this wraps whatever is there once the config is resolved.
function quietDirectives() {
  return {
    name: "docstore-quiet-directives",
    enforce: "post",
    configResolved(config) {
      const options = config.build.rollupOptions;
      const inner = options.onwarn;
      options.onwarn = (warning, warn) => {
        if (warning.code === "MODULE_LEVEL_DIRECTIVE") return;
        if (inner) inner(warning, warn);
        else warn(warning);
      };
    },
  };
}

export default defineConfig({
  // GraphiQL's React must stay React: no react -> preact/compat aliases.
  plugins: [preact({ reactAliasesEnabled: false, prefreshEnabled: false }), quietDirectives()],
  build: {
    outDir: "dist",
    emptyOutDir: true,
    assetsDir: "assets",
    sourcemap: false,
    chunkSizeWarningLimit: 6000,
    rollupOptions: {
      input: {
        app: resolve(import.meta.dirname, "index.html"),
        graphiql: resolve(import.meta.dirname, "graphiql.html"),
      },
    },
  },
});
