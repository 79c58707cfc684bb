/**
 * @devflow/cli — the `devflow` command.
 *
 * @since 0.1.0
 */
export {}
