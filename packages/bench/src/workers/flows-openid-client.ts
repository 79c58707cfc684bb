import { make } from "../clients/openidClient.js"
import { runWorker } from "./worker.js"

runWorker(make)
