import { make } from "../clients/msalNode.js"
import { runWorker } from "./worker.js"

runWorker(make)
