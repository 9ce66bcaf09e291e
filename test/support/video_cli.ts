/** `node video_cli.js ARGS`: the video command in a process of its own, for exit codes and Ctrl-C. */
import { runVideoCommand } from '../../src/cli/video.ts';

// Exits explicitly, as the real CLI does: a live Dawn instance keeps the event loop open.
process.exit(await runVideoCommand(process.argv.slice(2)));
