/**
 * The CLI's version, in a module of its own: `--version` and the help header
 * print it before the full CLI loads.
 * @internal
 */

/** @internal */
export const VERSION = "0.1.0"
