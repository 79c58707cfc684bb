import { makeDpop } from "../clients/devflow.js"
import { runWorker } from "./worker.js"

runWorker(makeDpop)
