/** The poll-logging server as its own process, so its clock readings do not wait on the test's own work. */
import { startPollLogServer } from "./pollLogServer.js"

const server = await startPollLogServer({
  intervalSeconds: Number(process.env.INTERVAL_SECONDS ?? 1),
  expireSeconds: Number(process.env.EXPIRE_SECONDS ?? 3)
})
process.stdout.write(`listening ${server.origin}\n`)
process.once("SIGTERM", () => void server.close().then(() => process.exit(0)))
