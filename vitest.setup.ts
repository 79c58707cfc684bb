import { addEqualityTesters } from "@effect/vitest"

addEqualityTesters()

// No test may reach the keychain of the person running the tests: without a session bus the
// OS keychain is "not available" (libdbus would otherwise also find $XDG_RUNTIME_DIR/bus).
// Keychain tests start a private Secret Service and point at it (cache-file's test/secretService.ts).
process.env.DBUS_SESSION_BUS_ADDRESS = "unix:path=/nonexistent/devflow-test-no-session-bus"
