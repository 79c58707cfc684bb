/**
 * The single list of test projects: one per package, each with its own
 * `vitest.config.ts`. The root `vitest.config.ts` feeds this list to
 * `test.projects`, so it is honoured by vitest 3 and by later majors that
 * no longer read workspace files.
 */
export default ["packages/*/vitest.config.ts"]
