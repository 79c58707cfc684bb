import { make } from "../clients/devflow.js"
import { runWorker } from "./worker.js"

runWorker(make)
