/** A command's failure: main prints its message, one sentence, on stderr and exits 1. */
export class CliError extends Error {}
/** Wrong or missing arguments: main prints the command's usage line and exits 2. */
export class UsageError extends CliError {}
