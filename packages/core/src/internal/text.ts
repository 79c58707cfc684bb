import { sanitize } from "../ServerText.js"

/** @internal */
export const clip = (text: string, max: number): string => (text.length > max ? `${text.slice(0, max - 3)}...` : text)

/**
 * The first line of a server's text, cleaned (ServerText) and clipped, for
 * one-line messages: Entra descriptions carry "Trace ID … Timestamp …" on
 * later lines when an error is built from a raw body.
 * @internal
 */
export const headline = (text: string): string => clip(sanitize(text.trim().split(/\r?\n/, 1)[0]!), 300)
