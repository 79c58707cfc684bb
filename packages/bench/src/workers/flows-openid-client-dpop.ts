import { makeDpop } from "../clients/openidClient.js"
import { runWorker } from "./worker.js"

runWorker(makeDpop)
