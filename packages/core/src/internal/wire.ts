/**
 * Provider wire quirks that are pure renamings, undone in one place before
 * any schema sees the body. Each line names the servers that need it.
 * @internal
 */
export const normaliseDeviceAuthorization = (body: Readonly<Record<string, unknown>>): Record<string, unknown> => {
  const out = dropNulls(body)
  // Entra v1, ADFS and Google send `verification_url` (a draft-era name) for `verification_uri`.
  if (out.verification_uri === undefined && out.verification_url !== undefined) {
    out.verification_uri = out.verification_url
  }
  return out
}

/** @internal */
export const normaliseTokenResponse = (body: Readonly<Record<string, unknown>>): Record<string, unknown> =>
  dropNulls(body)

// Some servers send `"interval": null` or `"scope": null` for "not given".
const dropNulls = (body: Readonly<Record<string, unknown>>): Record<string, unknown> => {
  const out: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(body)) {
    if (value !== null) out[key] = value
  }
  return out
}
