import { createHmac, timingSafeEqual } from "node:crypto"
import type { IncomingMessage, ServerResponse } from "node:http"
import type Provider from "oidc-provider"
import { consentPage, errorPage, type FormField, loginPage } from "./pages.js"

/**
 * The login and consent pages (oidc-provider "interactions"), served by plain
 * node:http next to the provider. Login accepts any name; the name becomes the
 * account id (`sub`). Consent grants exactly what the prompt reports missing,
 * or denies (the device then gets `access_denied`).
 *
 * Each form carries an `xsrf` field bound to the interaction id; the
 * interaction itself is bound to oidc-provider's `_interaction` cookie.
 */

const MAX_BODY = 16 * 1024
const MAX_NAME = 100

export interface InteractionHandlerOptions {
  readonly provider: Provider
  /** the issuer's path prefix ("" or e.g. "/realms/demo") */
  readonly prefix: string
  /** secret for the forms' xsrf tokens */
  readonly secret: Buffer
}

interface PromptDetails {
  readonly missingOIDCScope?: ReadonlyArray<string>
  readonly missingOIDCClaims?: ReadonlyArray<string>
  readonly missingResourceScopes?: Readonly<Record<string, ReadonlyArray<string>>>
}

class HttpError extends Error {
  constructor(readonly status: number, readonly error: string, message: string) {
    super(message)
  }
}

const readForm = async (req: IncomingMessage): Promise<URLSearchParams> => {
  const type = req.headers["content-type"] ?? ""
  if (!type.startsWith("application/x-www-form-urlencoded")) {
    throw new HttpError(415, "invalid_request", "expected application/x-www-form-urlencoded")
  }
  const chunks: Array<Buffer> = []
  let size = 0
  for await (const chunk of req) {
    const buf = chunk as Buffer
    size += buf.length
    if (size > MAX_BODY) throw new HttpError(413, "invalid_request", "request body too large")
    chunks.push(buf)
  }
  return new URLSearchParams(Buffer.concat(chunks).toString("utf8"))
}

const send = (res: ServerResponse, status: number, html: string): void => {
  res.statusCode = status
  res.setHeader("content-type", "text/html; charset=utf-8")
  res.setHeader("cache-control", "no-store")
  res.setHeader("content-length", Buffer.byteLength(html))
  res.end(html)
}

export const makeInteractionHandler = ({ prefix, provider, secret }: InteractionHandlerOptions) => {
  const xsrfFor = (uid: string) => createHmac("sha256", secret).update(uid).digest("base64url")
  const checkXsrf = (uid: string, value: string | null) => {
    const expected = Buffer.from(xsrfFor(uid))
    const actual = Buffer.from(value ?? "")
    if (actual.length !== expected.length || !timingSafeEqual(actual, expected)) {
      throw new HttpError(403, "invalid_request", "xsrf token missing or invalid")
    }
  }
  const clientName = async (clientId: unknown): Promise<string> => {
    const client = typeof clientId === "string" ? await provider.Client.find(clientId) : undefined
    return client?.clientName ?? (typeof clientId === "string" ? clientId : "an application")
  }

  const details = async (req: IncomingMessage, res: ServerResponse, uid: string) => {
    let interaction
    try {
      interaction = await provider.interactionDetails(req, res)
    } catch (cause) {
      throw new HttpError(400, "invalid_request", `interaction not found or expired: ${(cause as Error).message}`)
    }
    if (interaction.uid !== uid) throw new HttpError(400, "invalid_request", "interaction mismatch")
    return interaction
  }

  const renderLogin = async (res: ServerResponse, uid: string, clientId: unknown, error?: string) =>
    send(
      res,
      error === undefined ? 200 : 400,
      loginPage(
        `${prefix}/interaction/${uid}/login`,
        [{ name: "xsrf", value: xsrfFor(uid) }],
        await clientName(clientId),
        error
      )
    )

  const handle = async (req: IncomingMessage, res: ServerResponse, path: string): Promise<void> => {
    const match = /^\/interaction\/([\w-]+)(?:\/(login|consent))?$/.exec(path)
    if (!match) throw new HttpError(404, "not_found", "no such page")
    const uid = match[1]!
    const action = match[2]

    if (action === undefined) {
      if (req.method !== "GET" && req.method !== "HEAD") {
        throw new HttpError(405, "invalid_request", "method not allowed")
      }
      const interaction = await details(req, res, uid)
      const { name } = interaction.prompt
      if (name === "login") return renderLogin(res, uid, interaction.params.client_id)
      if (name === "consent") {
        const d = interaction.prompt.details as PromptDetails
        const fields: Array<FormField> = [{ name: "xsrf", value: xsrfFor(uid) }]
        const scopes = [
          ...(d.missingOIDCScope ?? []),
          ...Object.values(d.missingResourceScopes ?? {}).flat()
        ]
        return send(
          res,
          200,
          consentPage(
            `${prefix}/interaction/${uid}/consent`,
            fields,
            await clientName(interaction.params.client_id),
            interaction.session?.accountId ?? "",
            scopes,
            d.missingOIDCClaims ?? []
          )
        )
      }
      throw new HttpError(400, "invalid_request", `unsupported prompt ${name}`)
    }

    if (req.method !== "POST") throw new HttpError(405, "invalid_request", "method not allowed")
    const form = await readForm(req)
    checkXsrf(uid, form.get("xsrf"))
    const interaction = await details(req, res, uid)

    if (action === "login") {
      if (interaction.prompt.name !== "login") throw new HttpError(400, "invalid_request", "not a login step")
      const name = (form.get("name") ?? "").trim()
      if (name.length === 0 || name.length > MAX_NAME) {
        return renderLogin(res, uid, interaction.params.client_id, `Enter a name (1 to ${MAX_NAME} characters).`)
      }
      return provider.interactionFinished(req, res, { login: { accountId: name } }, { mergeWithLastSubmission: false })
    }

    // consent
    if (interaction.prompt.name !== "consent") throw new HttpError(400, "invalid_request", "not a consent step")
    const decision = form.get("decision")
    if (decision === "deny") {
      return provider.interactionFinished(
        req,
        res,
        { error: "access_denied", error_description: "End-User denied the authorization request" },
        { mergeWithLastSubmission: false }
      )
    }
    if (decision !== "allow") throw new HttpError(400, "invalid_request", "decision must be allow or deny")

    const accountId = interaction.session?.accountId
    if (accountId === undefined) throw new HttpError(400, "invalid_request", "not signed in")
    const clientId = String(interaction.params.client_id)
    const existing = interaction.grantId === undefined ? undefined : await provider.Grant.find(interaction.grantId)
    const grant = existing ?? new provider.Grant({ accountId, clientId })
    const d = interaction.prompt.details as PromptDetails
    if (d.missingOIDCScope) grant.addOIDCScope(d.missingOIDCScope.join(" "))
    if (d.missingOIDCClaims) grant.addOIDCClaims([...d.missingOIDCClaims])
    for (const [indicator, scopes] of Object.entries(d.missingResourceScopes ?? {})) {
      grant.addResourceScope(indicator, scopes.join(" "))
    }
    const grantId = await grant.save()
    return provider.interactionFinished(
      req,
      res,
      { consent: existing === undefined ? { grantId } : {} },
      { mergeWithLastSubmission: true }
    )
  }

  return async (req: IncomingMessage, res: ServerResponse, path: string): Promise<void> => {
    try {
      await handle(req, res, path)
    } catch (cause) {
      if (res.headersSent) {
        res.destroy()
        return
      }
      if (cause instanceof HttpError) {
        send(res, cause.status, errorPage("Something went wrong", cause.error, cause.message))
      } else {
        console.error("[@devflow/dev-server] interaction failed:", cause)
        send(res, 500, errorPage("Something went wrong", "server_error"))
      }
    }
  }
}
