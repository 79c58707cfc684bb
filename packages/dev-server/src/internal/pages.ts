/**
 * Minimal, self-contained HTML for every page a person sees (no external
 * fonts or scripts: the pages work offline and in a sandboxed browser).
 *
 * Every page's <main> carries `data-page` (and, on errors, `data-error`):
 * the scripted `approve()` and the browser helper read these markers instead
 * of guessing from the wording.
 */

export const escapeHtml = (value: unknown): string =>
  String(value)
    .replaceAll("&", "&amp;")
    .replaceAll("<", "&lt;")
    .replaceAll(">", "&gt;")
    .replaceAll("\"", "&quot;")
    .replaceAll("'", "&#39;")

const STYLE = `
body{font-family:system-ui,sans-serif;background:#f4f5f7;margin:0;padding:32px 12px;color:#222}
main{max-width:360px;margin:0 auto;background:#fff;border-radius:8px;padding:20px 28px 24px;box-shadow:0 1px 3px rgba(0,0,0,.2)}
h1{font-size:1.4em;font-weight:500;margin-top:0}
input[type=text]{width:100%;box-sizing:border-box;height:40px;font-size:16px;padding:0 8px;margin:4px 0 12px;border:1px solid #bbb;border-radius:4px}
input[name=user_code]{text-transform:uppercase;text-align:center;letter-spacing:.1em}
button{width:100%;height:38px;font-size:15px;border:0;border-radius:4px;background:#2f6fde;color:#fff;cursor:pointer;margin-bottom:8px}
button.secondary{background:#e4e6eb;color:#333}
.error{color:#b00020}
code{font-size:1.6em;letter-spacing:.1em}
ul{padding-left:20px}
small{color:#666}
`

export const layout = (title: string, page: string, body: string, error?: string): string =>
  `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>${STYLE}</style>
</head>
<body>
<main data-page="${escapeHtml(page)}"${error === undefined ? "" : ` data-error="${escapeHtml(error)}"`}>
<h1>${escapeHtml(title)}</h1>
${body}
</main>
</body>
</html>`

/** Device flow step 1: the verification page where the user types the code (wraps oidc-provider's form). */
export const userCodeInputPage = (form: string, error?: { name: string; message: string }): string => {
  const message = error === undefined
    ? "<p>Enter the code displayed on your device.</p>"
    : error.name === "AbortedError"
    ? "<p class=\"error\">The sign-in request was cancelled. You can close this page.</p>"
    : error.name === "NotFoundError" || error.name === "NoCodeError"
    ? "<p class=\"error\">The code you entered is incorrect. Try again.</p>"
    : error.name === "ExpiredError"
    ? "<p class=\"error\">The code has expired. Start again on your device.</p>"
    : error.name === "AlreadyUsedError"
    ? "<p class=\"error\">The code has already been used.</p>"
    : `<p class="error">${escapeHtml(error.message)}</p>`
  return layout(
    "Device sign-in",
    "user-code",
    `${message}
${form}
<button type="submit" form="op.deviceInputForm">Continue</button>`,
    error?.name
  )
}

/** Device flow step 2: confirm that the code matches the device (wraps oidc-provider's form). */
export const userCodeConfirmPage = (form: string, clientName: string, userCode: string): string =>
  layout(
    "Confirm device",
    "user-code-confirm",
    `<p><strong>${escapeHtml(clientName)}</strong> wants to sign in. Check that your device shows this code:</p>
<p style="text-align:center"><code>${escapeHtml(userCode)}</code></p>
${form}
<button type="submit" form="op.deviceConfirmForm" autofocus>Continue</button>
<button type="submit" form="op.deviceConfirmForm" name="abort" value="yes" class="secondary">Cancel</button>
<p><small>If you did not start this on a device of yours, press Cancel.</small></p>`
  )

/** Device flow end: the device has been authorized. */
export const successPage = (clientName: string): string =>
  layout(
    "Device connected",
    "success",
    `<p>You signed in to <strong>${
      escapeHtml(clientName)
    }</strong>. You can close this page and return to your device.</p>`
  )

export interface FormField {
  readonly name: string
  readonly value: string
}

const hidden = (fields: ReadonlyArray<FormField>): string =>
  fields.map((f) => `<input type="hidden" name="${escapeHtml(f.name)}" value="${escapeHtml(f.value)}">`).join("\n")

/** Interaction: sign in with any name. */
export const loginPage = (
  action: string,
  fields: ReadonlyArray<FormField>,
  clientName: string,
  error?: string
): string =>
  layout(
    "Sign in",
    "login",
    `<p>Sign in to continue to <strong>${
      escapeHtml(clientName)
    }</strong>. This is a development server: any name works.</p>
${error === undefined ? "" : `<p class="error">${escapeHtml(error)}</p>`}
<form id="login" method="post" action="${escapeHtml(action)}">
${hidden(fields)}
<label for="name">Your name</label>
<input type="text" id="name" name="name" autofocus required autocomplete="username">
<button type="submit">Sign in</button>
</form>`,
    error === undefined ? undefined : "invalid_name"
  )

/** Interaction: consent to the requested scopes and claims. */
export const consentPage = (
  action: string,
  fields: ReadonlyArray<FormField>,
  clientName: string,
  accountId: string,
  scopes: ReadonlyArray<string>,
  claims: ReadonlyArray<string>
): string =>
  layout(
    "Allow access?",
    "consent",
    `<p>Signed in as <strong>${escapeHtml(accountId)}</strong>.</p>
<p><strong>${escapeHtml(clientName)}</strong> asks for:</p>
<ul>${scopes.map((s) => `<li>${escapeHtml(s)}</li>`).join("")}${
      claims.map((c) => `<li>claim ${escapeHtml(c)}</li>`).join("")
    }</ul>
<form id="consent" method="post" action="${escapeHtml(action)}">
${hidden(fields)}
<button type="submit" name="decision" value="allow" autofocus>Allow</button>
<button type="submit" name="decision" value="deny" class="secondary">Deny</button>
</form>`
  )

export const errorPage = (title: string, error: string, description?: string): string =>
  layout(
    title,
    "error",
    `<p class="error">${escapeHtml(error)}</p>${description === undefined ? "" : `<p>${escapeHtml(description)}</p>`}`,
    error
  )
