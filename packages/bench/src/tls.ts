/**
 * A throwaway self-signed certificate for 127.0.0.1 (ECDSA P-256), made
 * with the system's openssl for each run. msal-node refuses http
 * authorities, so the loopback servers speak TLS; children trust the
 * certificate through NODE_EXTRA_CA_CERTS.
 */
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"

export interface Certificate {
  readonly dir: string
  readonly certFile: string
  readonly cert: string
  readonly key: string
}

export const makeCertificate = (): Certificate => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "devflow-bench-tls-"))
  const certFile = path.join(dir, "cert.pem")
  const keyFile = path.join(dir, "key.pem")
  execFileSync("openssl", [
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
    "-keyout",
    keyFile,
    "-out",
    certFile,
    "-days",
    "2",
    "-subj",
    "/CN=127.0.0.1",
    "-addext",
    "subjectAltName=IP:127.0.0.1,DNS:localhost"
  ], { stdio: "ignore" })
  return { dir, certFile, cert: fs.readFileSync(certFile, "utf8"), key: fs.readFileSync(keyFile, "utf8") }
}
