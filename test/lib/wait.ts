// The one way tests and benchmarks wait for something: the launcher's waitFor (the demo, which
// is product code, polls with it too, and the product may not import test/).
export { sleep, waitFor, type WaitOptions } from '../../src/launcher/wait.js';
