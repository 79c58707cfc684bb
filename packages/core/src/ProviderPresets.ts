/**
 * The provider presets as plain data, without Effect: the CLI prints its help
 * and `devflow providers` from them before (or without) loading Effect.
 * {@link Providers} builds its schema and its resolution on the same data.
 *
 * @since 0.1.0
 */
import * as internal from "./internal/presets.js"
import type { Provider, ProviderId } from "./Providers.js"

/**
 * Every preset id, in a stable order (for help texts and flag choices).
 *
 * @since 0.1.0
 * @category constants
 */
export const IDS = ["entra", "entra-v1", "github", "google", "okta", "auth0", "keycloak", "aws-sso", "generic"] as const

/**
 * The presets, by id.
 *
 * @since 0.1.0
 * @category constants
 */
export const presets: Readonly<Record<ProviderId, Provider>> = internal.presets

/**
 * Whether a value is a provider preset id.
 *
 * @since 0.1.0
 * @category refinements
 */
export const isProviderId = (u: unknown): u is ProviderId =>
  typeof u === "string" && (IDS as ReadonlyArray<string>).includes(u)
