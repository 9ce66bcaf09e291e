/** `node cli_main.js ARGS`: the whole mobilessd CLI, bundled with the tests, run as its own process. */
import '../../src/cli/main.ts';
