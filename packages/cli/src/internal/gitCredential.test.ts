import { describe, expect, it } from "vitest"
import * as GitCredential from "./gitCredential.js"

describe("git's credential protocol", () => {
  it("reads key=value lines up to the blank line; a later value wins; array keys and junk are skipped", () => {
    expect(
      GitCredential.parse(
        "protocol=https\r\nhost=example.com\nwwwauth[]=Basic\nnonsense\nhost=git.example.com\n\npassword=after-the-end\n"
      )
    )
      .toEqual({ protocol: "https", host: "git.example.com" })
    expect(GitCredential.parse("path=a=b\n")).toEqual({ path: "a=b" })
  })

  it("answers with the username, the token and its expiry in Unix seconds (git 2.41+ drops an expired one)", () => {
    expect(GitCredential.answer("oauth2", "t0k", 1_700_000_000_999)).toBe(
      "username=oauth2\npassword=t0k\npassword_expiry_utc=1700000000\n"
    )
    expect(GitCredential.answer("x-access-token", "t0k", undefined)).toBe("username=x-access-token\npassword=t0k\n")
    // git would read the rest of the line as another attribute
    expect(() => GitCredential.answer("a\nb", "t0k", undefined)).toThrow()
  })

  it("the username follows the provider's convention: x-access-token for GitHub, oauth2 elsewhere", () => {
    expect(GitCredential.usernameFor("github")).toBe("x-access-token")
    for (const provider of ["generic", "entra", "keycloak", undefined]) {
      expect(GitCredential.usernameFor(provider)).toBe("oauth2")
    }
  })

  it("a token goes over https, or http to loopback only, and only to --host when one is given", () => {
    expect(GitCredential.refusal({ protocol: "https", host: "github.com" }, undefined)).toBeUndefined()
    expect(GitCredential.refusal({ protocol: "https", host: "GitHub.com" }, "github.com")).toBeUndefined()
    for (const host of ["127.0.0.1:8080", "localhost", "[::1]:3000"]) {
      expect(GitCredential.refusal({ protocol: "http", host }, undefined), host).toBeUndefined()
    }
    expect(GitCredential.refusal({ protocol: "http", host: "git.example.com" }, undefined)).toMatch(/https only/)
    expect(GitCredential.refusal({ protocol: "http", host: "127.0.0.1.example.com" }, undefined)).toMatch(/https only/)
    expect(GitCredential.refusal({ protocol: "ssh", host: "github.com" }, undefined)).toMatch(/https only/)
    expect(GitCredential.refusal({ protocol: "https", host: "gitlab.com" }, "github.com")).toMatch(
      /not configured for gitlab\.com/
    )
  })

  it("the fast path answers `get` only, and declines what the full CLI must handle", () => {
    const request = "protocol=https\nhost=github.com\n\n"
    expect(GitCredential.fast(["--cache-dir", "/nonexistent", "store"], {}, request)).toBeUndefined()
    expect(GitCredential.fast(["--bogus", "get"], {}, request)).toBeUndefined()
    expect(GitCredential.fast(["--cache-dir", "/nonexistent", "get"], {}, "protocol=http\nhost=example.com\n\n"))
      .toBeUndefined()
    expect(GitCredential.fast(["--cache-dir", "/nonexistent", "get"], {}, request)).toBeUndefined()
  })
})
