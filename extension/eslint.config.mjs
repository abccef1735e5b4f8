// Lint: typescript-eslint's type-aware recommended rules over src/; scripts in plain
// JavaScript (the test launcher, the DAG webview) get the untyped recommended rules.
import js from "@eslint/js";
import tseslint from "typescript-eslint";
import globals from "globals";

export default tseslint.config(
  { ignores: ["out/**", "node_modules/**", "server/**", "*.vsix"] },
  js.configs.recommended,
  {
    files: ["src/**/*.ts"],
    extends: [...tseslint.configs.recommendedTypeChecked],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_" }],
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/switch-exhaustiveness-check": "error",
      eqeqeq: ["error", "always"],
      curly: ["error", "multi-line"],
    },
  },
  { files: ["**/*.mjs", "test/**/*.js"], languageOptions: { globals: globals.node } },
  { files: ["media/**/*.js"], languageOptions: { globals: { ...globals.browser, acquireVsCodeApi: "readonly" } } },
);
