/**
 * RFC 8628 §5.4 at the terminal: which address the QR code may carry and
 * `--open` may open, and what to warn about. Only an address that passed the
 * check is ever encoded or opened; a failed one is still shown, with the
 * warning, since the user may know better.
 *
 * @since 0.1.0
 */
import type * as DeviceAuthorization from "@devflow/core/DeviceAuthorization"
import * as Providers from "@devflow/core/Providers"

/**
 * A code's addresses after the §5.4 check.
 *
 * @since 0.1.0
 * @category models
 */
export interface Vetted {
  /** the address to QR-encode and open, as the href core decoded; undefined when the page failed the check */
  readonly link: string | undefined
  /** whether `link` is verification_uri_complete (the code is filled in) */
  readonly complete: boolean
  /** why an address failed the check, when one did */
  readonly warning: string | undefined
}

/**
 * Check a code's verification_uri and verification_uri_complete against
 * `target` (RFC 8628 §5.4): the link is verification_uri_complete when both
 * pass, verification_uri when only it does, none otherwise.
 *
 * @since 0.1.0
 * @category utils
 */
export const vet = (
  target: Providers.VerificationTarget,
  code: Pick<DeviceAuthorization.DeviceCode, "verificationUri" | "verificationUriComplete">
): Vetted => {
  const page = Providers.checkVerificationUri(target, code.verificationUri)
  const complete = Providers.checkVerificationUriComplete(target, code.verificationUri, code.verificationUriComplete)
  const reasons = [...new Set([page, complete].filter((check) => !check.trusted).map((check) => check.reason))]
  const warning = reasons.length === 0 ? undefined : reasons.join("; ")
  if (!page.trusted) return { link: undefined, complete: false, warning }
  return complete.trusted && code.verificationUriComplete !== undefined
    ? { link: code.verificationUriComplete, complete: true, warning }
    : { link: code.verificationUri, complete: false, warning }
}
