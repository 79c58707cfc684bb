/** The package's version, from its package.json (written by scripts/version.mjs). @internal */
export const version = "0.1.0"
