import { formatError } from "./errors.js";
import { EXIT } from "./exit-codes.js";
import { main } from "./program.js";

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`${formatError(err, process.env.STRONGBOX_DEBUG === "1")}\n`);
    process.exitCode = EXIT.FAILED;
  },
);
