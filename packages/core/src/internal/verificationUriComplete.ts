import type { VerificationCheck, VerificationTarget } from "../Providers.js"
import { checkVerificationUri } from "./verificationHost.js"

/**
 * RFC 8628 §5.4 for `verification_uri_complete` (§3.3.1), the address the QR
 * code and the clickable link carry: it gets the same check as
 * `verification_uri`, and it must be on verification_uri's host — a server
 * that shows one page and links another is warned about, even when both hosts
 * are otherwise trusted. `undefined` (the server sent none) is trusted: only
 * verification_uri is shown then.
 * @internal
 */
export const checkVerificationUriComplete = (
  target: VerificationTarget,
  verificationUri: string,
  verificationUriComplete: string | undefined
): VerificationCheck => {
  if (verificationUriComplete === undefined) {
    return { trusted: true, host: undefined, reason: "the server sent no verification_uri_complete" }
  }
  const complete = checkVerificationUri(target, verificationUriComplete)
  if (!complete.trusted) return { ...complete, reason: `the link and QR code: ${complete.reason}` }
  const shown = checkVerificationUri(target, verificationUri)
  if (shown.host !== undefined && complete.host !== shown.host) {
    return {
      trusted: false,
      host: complete.host,
      reason: `the link and QR code go to ${complete.host}, not to ${shown.host} where the code is to be entered: ` +
        "check the address before entering the code (RFC 8628 §5.4)"
    }
  }
  return complete
}
