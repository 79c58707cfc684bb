import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FastCheck from "effect/FastCheck"
import * as Layer from "effect/Layer"
import * as TestClock from "effect/TestClock"
import { runVirtual } from "../test/virtual.js"
import * as PublicClient from "./PublicClient.js"
import * as ScopeForm from "./ScopeForm.js"
import * as TestKit from "./TestKit.js"
import * as TestKitCache from "./TestKitCache.js"
import * as TokenCache from "./TokenCache.js"

const GRAPH = "https://graph.microsoft.com"

describe("ScopeForm: spellings of the same scope", () => {
  it("entra: Graph's prefix is dropped and the comparison ignores case", () => {
    assert.deepStrictEqual(
      ScopeForm.normalise("entra", [
        `${GRAPH}/User.Read`,
        "Mail.Read",
        "00000003-0000-0000-c000-000000000000/Files.Read"
      ]),
      ["Files.Read", "Mail.Read", "User.Read"]
    )
    assert.isTrue(
      ScopeForm.covers("entra", ["User.Read", "openid", "profile", "email"], [`${GRAPH}/user.read`, "offline_access"])
    )
    assert.isTrue(ScopeForm.covers("entra", [`${GRAPH}/User.Read`], ["User.Read"]))
    // another resource keeps its prefix: api://x/read is not Graph's read
    assert.isFalse(ScopeForm.covers("entra", ["read"], ["api://contoso-api/read"]))
    assert.isTrue(ScopeForm.covers("entra", ["api://contoso-api/read"], ["api://contoso-api/Read"]))
  })

  it("entra: only the authority's own cloud's Graph host is dropped; another cloud's Graph is another resource", () => {
    const usGov = "https://login.microsoftonline.us/contoso.onmicrosoft.us"
    const china = "https://login.chinacloudapi.cn/contoso.partner.onmschina.cn/oauth2/v2.0/token"
    const publicCloud = "https://login.microsoftonline.com/contoso.onmicrosoft.com"
    // the US Government sign-in host serves L4 (graph.microsoft.us) and DoD (dod-graph.microsoft.us): a DoD request is not L4's
    assert.isFalse(ScopeForm.covers("entra", ["User.Read"], ["https://dod-graph.microsoft.us/User.Read"], usGov))
    assert.isFalse(
      ScopeForm.covers(
        "entra",
        ["https://graph.microsoft.us/User.Read"],
        ["https://dod-graph.microsoft.us/User.Read"],
        usGov
      )
    )
    assert.isTrue(ScopeForm.covers("entra", ["User.Read"], ["https://graph.microsoft.us/user.read"], usGov))
    assert.isTrue(
      ScopeForm.covers("entra", ["https://dod-graph.microsoft.us/User.Read"], [
        "https://dod-graph.microsoft.us/User.Read"
      ], usGov)
    )
    assert.deepStrictEqual(
      ScopeForm.granted("entra", ["https://dod-graph.microsoft.us/User.Read"], undefined, usGov),
      ["https://dod-graph.microsoft.us/User.Read"]
    )
    assert.isTrue(
      ScopeForm.covers("entra", ["User.Read"], ["https://microsoftgraph.chinacloudapi.cn/User.Read"], china)
    )
    assert.isFalse(ScopeForm.covers("entra", ["User.Read"], ["https://graph.microsoft.com/User.Read"], china))
    // the public cloud (and any authority not known as another cloud's) strips only graph.microsoft.com
    for (const authority of [publicCloud, undefined]) {
      assert.isFalse(ScopeForm.covers("entra", ["User.Read"], ["https://graph.microsoft.us/User.Read"], authority))
      assert.isTrue(ScopeForm.covers("entra", ["User.Read"], [`${GRAPH}/User.Read`], authority))
      // Graph's application id is the same in every cloud: it names the authority's own Graph
      assert.isTrue(
        ScopeForm.covers("entra", ["User.Read"], ["00000003-0000-0000-c000-000000000000/User.Read"], authority)
      )
    }
    assert.isTrue(ScopeForm.covers("entra", ["User.Read"], ["00000003-0000-0000-c000-000000000000/User.Read"], usGov))
  })

  it("oauth: RFC 6749 §3.3 scopes are case-sensitive and never rewritten", () => {
    assert.isFalse(ScopeForm.covers("oauth", ["API.Read"], ["api.read"]))
    assert.isFalse(ScopeForm.covers("oauth", ["User.Read"], [`${GRAPH}/User.Read`]))
    assert.deepStrictEqual(ScopeForm.granted("oauth", [], "repo,gist"), ["repo,gist"])
  })

  it("github: the token answer's scope is comma-separated", () => {
    assert.deepStrictEqual(ScopeForm.granted("github", ["repo"], "repo,gist"), ["repo", "gist"])
    assert.deepStrictEqual(ScopeForm.granted("github", ["repo"], "repo, read:org"), ["repo", "read:org"])
  })

  it("the granted scopes are the server's (in its order), or the request when it sent none (RFC 6749 §5.1)", () => {
    assert.deepStrictEqual(
      ScopeForm.granted("entra", [`${GRAPH}/User.Read`, "offline_access"], "User.Read openid profile email"),
      [
        "User.Read",
        "openid",
        "profile",
        "email"
      ]
    )
    assert.deepStrictEqual(ScopeForm.granted("entra", [`${GRAPH}/User.Read`], undefined), ["User.Read"])
    assert.deepStrictEqual(ScopeForm.granted("oauth", ["a", "b"], ""), ["a", "b"])
  })

  it("entra: a {resource}/.default request is kept with the permissions listed for it", () => {
    const granted = ScopeForm.granted("entra", [`${GRAPH}/.default`], "User.Read Mail.Read")
    assert.isTrue(ScopeForm.covers("entra", granted, [`${GRAPH}/.default`]))
    assert.isTrue(ScopeForm.covers("entra", granted, ["User.Read"]))
    assert.isFalse(ScopeForm.covers("entra", granted, ["api://other/.default"]))
  })

  it.prop(
    "whatever the form, a token covers the request it was granted for, in any spelling the form allows",
    [
      FastCheck.constantFrom(...ScopeForm.forms),
      FastCheck.array(FastCheck.stringMatching(/^[A-Za-z][A-Za-z.:]{0,8}$/), { maxLength: 5 }),
      FastCheck.boolean()
    ],
    ([form, scopes, qualified]) => {
      const requested = form === "entra" && qualified ? scopes.map((s) => `${GRAPH}/${s}`) : scopes
      const answered = form === "github" ? scopes.join(",") : scopes.join(" ")
      const stored = ScopeForm.normalise(form, ScopeForm.granted(form, requested, answered))
      assert.isTrue(ScopeForm.covers(form, stored, requested))
      assert.deepStrictEqual(ScopeForm.normalise(form, stored), stored)
    }
  )
})

// Entra v2 as it answers a Graph sign-in: short scopes, openid profile email added, offline_access dropped.
const entraServer = (answered: string) => {
  let refreshes = 0
  const tokens = (n: number) =>
    TestKit.tokens({
      access_token: TestKitCache.accessToken(n),
      expires_in: 3600,
      scope: answered,
      refresh_token: TestKitCache.refreshToken(n),
      id_token: TestKit.idToken({
        sub: "user-1",
        iss: "https://login.microsoftonline.com/tenant/v2.0",
        aud: TestKit.CLIENT_ID
      })
    })
  const script: TestKit.Script = {
    deviceAuthorization: () => TestKit.deviceCode(),
    token: (context) => (context.params.grant_type === "refresh_token" ? tokens(++refreshes) : tokens(0))
  }
  return { script, refreshes: () => refreshes }
}

const entraClient = Effect.flatMap(TestKit.config({ scopeForm: "entra" }), (config) => PublicClient.make({ config }))

describe("Entra scopes asked in one form and answered in another (issue: every lookup refreshed)", () => {
  for (
    const [title, answered] of [
      ["answered short", "User.Read openid profile email"],
      ["answered qualified", `${GRAPH}/User.Read openid profile email`]
    ] as const
  ) {
    it.effect(`asked qualified, ${title}: later silent calls make no request, before and after a refresh`, () => {
      const server = entraServer(answered)
      const requested = [`${GRAPH}/User.Read`, "offline_access"]
      return Effect.gen(function*() {
        const app = yield* entraClient
        const signedIn = yield* runVirtual(app.acquireTokenWithDeviceCode({ scopes: requested }, { onCode: () => {} }))
        if (Exit.isFailure(signedIn)) throw new Error(String(signedIn))
        assert.deepStrictEqual(signedIn.value.scopes, ["User.Read", "email", "openid", "profile"])
        const fake = yield* TestKit.FakeServer
        const before = (yield* fake.requests).length
        for (const scopes of [requested, ["User.Read"], [`${GRAPH}/user.read`]]) {
          assert.strictEqual((yield* app.acquireTokenSilent(scopes, signedIn.value.account)).source, "cache")
        }
        assert.strictEqual((yield* fake.requests).length, before)
        // a refreshed token is found the same way
        yield* TestClock.adjust("58 minutes")
        assert.strictEqual((yield* app.acquireTokenSilent(requested, signedIn.value.account)).source, "refresh")
        assert.strictEqual((yield* app.acquireTokenSilent(requested, signedIn.value.account)).source, "cache")
        assert.strictEqual(server.refreshes(), 1)
        const cache = yield* TokenCache.TokenCache
        const stored = [...(yield* cache.read).accessTokens.values()]
        assert.deepStrictEqual(stored.map((e) => e.scopes), [["User.Read", "email", "openid", "profile"]])
      }).pipe(Effect.provide(Layer.merge(TokenCache.layerMemory, TestKit.layer(server.script))))
    })
  }
})
