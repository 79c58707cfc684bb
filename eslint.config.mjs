import * as effectEslint from "@effect/eslint-plugin"
import js from "@eslint/js"
import tseslint from "typescript-eslint"

export default tseslint.config(
  { ignores: ["**/dist/**", "**/node_modules/**", "**/.tsbuildinfo/**", "**/*.d.ts"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  // The formatter: dprint through Effect's ESLint rule, with Effect's own settings, so `eslint --fix` formats
  // and `pnpm lint` fails on unformatted code.
  ...effectEslint.configs.dprint,
  {
    rules: {
      "@effect/dprint": ["error", {
        config: {
          indentWidth: 2,
          lineWidth: 120,
          semiColons: "asi",
          quoteStyle: "alwaysDouble",
          trailingCommas: "never",
          operatorPosition: "maintain",
          "arrowFunction.useParentheses": "force"
        }
      }],
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/no-explicit-any": "error",
      "@typescript-eslint/no-empty-object-type": "off",
      "@typescript-eslint/consistent-type-imports": ["error", { fixStyle: "inline-type-imports" }],
      "require-yield": "off",
      // One tag style: an interface and a GenericTag of the same name (a Context.Tag or Effect.Tag
      // class would be a second way to write the same thing).
      "no-restricted-syntax": ["error", {
        selector: "MemberExpression[object.name=/^(Context|Effect)$/][property.name='Tag']",
        message:
          "Declare a service as an interface plus `Context.GenericTag` of the same name, as the other services are."
      }]
    }
  },
  {
    // Tests read parsed JSON (a child's --json lines, OTLP exports, stored records) field by field,
    // and hand-build malformed values on purpose: there `any` is the honest type.
    files: ["**/*.test.ts", "**/test/**/*.ts"],
    rules: { "@typescript-eslint/no-explicit-any": "off" }
  },
  {
    // @devflow/core is pure: it runs wherever Effect runs (browsers, Deno, workers).
    files: ["packages/core/src/**/*.ts"],
    rules: {
      "no-restricted-imports": ["error", {
        patterns: [{ group: ["node:*"], message: "@devflow/core must not import Node APIs." }],
        paths: [
          "fs",
          "path",
          "os",
          "http",
          "https",
          "net",
          "tls",
          "crypto",
          "child_process",
          "process",
          "buffer",
          "url",
          "util",
          "events",
          "stream"
        ]
          .map((name) => ({ name, message: "@devflow/core must not import Node APIs." }))
      }],
      "no-restricted-globals": ["error", { name: "process", message: "@devflow/core must not use Node globals." }, {
        name: "Buffer",
        message: "@devflow/core must not use Node globals."
      }, { name: "require", message: "@devflow/core is ESM only." }]
    }
  }
)
