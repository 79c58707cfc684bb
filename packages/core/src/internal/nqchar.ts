// RFC 6749 Appendix A: NQCHAR = %x21 / %x23-5B / %x5D-7E. A scope token (RFC 6749 §3.3) and a
// DPoP nonce (RFC 9449 §8) are both 1*NQCHAR: one definition for both.
const NQCHARS = /^[\x21\x23-\x5b\x5d-\x7e]+$/

/**
 * Whether `text` is one or more NQCHARs: no spaces, quotes, backslashes or controls.
 * @internal
 */
export const isNqchars = (text: string): boolean => NQCHARS.test(text)
